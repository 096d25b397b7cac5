/**
 * bench/ssh-roundtrip: one `show` over SSH, end to end (client start, key
 * exchange, auth, command, exit), three ways in one run, interleaved:
 *   - baseline: a real sshd whose forced command is `docker ps`;
 *   - dcm-server: `ssh -p PORT alice@127.0.0.1 show`;
 *   - dcm-shell:  the same sshd, forced command `dcm-shell --user alice`, `show`,
 *                 with dcm-server serving the installation (the command goes
 *                 to its local socket);
 *   - dcm-shell-alone: the same, for an installation no dcm-server serves
 *                 (the forced command loads the whole program).
 * Same client, same KexAlgorithms=curve25519-sha256 on both sides, a clean
 * HOME for the sshd sessions. The user has one container, so `show` asks the
 * engine as `docker ps` does. Prints medians and the ratios to the baseline
 * (targets: dcm-server ≤ 1.0, dcm-shell ≤ 1.3).
 *
 *   npm run bench:ssh-roundtrip [-- --rounds N]
 */
import { join } from 'node:path';
import { TestEnv, run } from '../test/helpers/env.js';
import { tp } from '../test/helpers/ports.js';
import { doorBin, sshOpts, startServer } from '../test/helpers/ssh.js';
import { startSshd } from '../test/helpers/sshd.js';
import { median } from '../test/helpers/stats.js';

const rounds = Math.min(Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 25, 200);
const DEADLINE = Date.now() + 5 * 60 * 1000;
const SERVER_PORT = tp(33740);
const SSHD_PORT = tp(33741);
const KEX = ['-o', 'KexAlgorithms=curve25519-sha256'];

async function timed(args: string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await run('ssh', args, {}, 30_000);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.code !== 0) throw new Error(`ssh ${args.slice(-2).join(' ')} exited ${r.code}: ${r.stderr}`);
  return ms;
}

async function main(): Promise<void> {
  const env = new TestEnv({ tag: 'benchssh', sshPorts: '31400-31449', extraYaml: 'openssh:\n  service_account: root\n' });
  const alone = new TestEnv({ tag: 'benchssh2', sshPorts: '31350-31399', extraYaml: 'openssh:\n  service_account: root\n' });
  const stops: (() => Promise<unknown>)[] = [];
  try {
    await env.registerBase();
    await alone.registerBase();
    const alice = await env.addUser('alice');
    const aliceAlone = await alone.addUser('alice');
    for (const e of [env, alone]) {
      const made = await e.dcm('alice', 'create');
      if (made.code !== 0) throw new Error(`create: ${made.stderr}`);
    }
    const baseKey = join(env.stateDir, 'baseline');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', baseKey]);
    const baseKeyPub = (await run('cat', [`${baseKey}.pub`])).stdout.trim();
    const shellFor = (e: TestEnv) =>
      `${process.execPath} ${doorBin('dcm-shell')} --user alice --state-dir ${e.stateDir} --config ${e.configFile}`;
    const docker = (await run('sh', ['-c', 'command -v docker'])).stdout.trim();
    const sshd = await startSshd({
      port: SSHD_PORT,
      authorizedKeys: [
        `restrict,command="${docker} ps" ${baseKeyPub}`,
        `restrict,pty,command="${shellFor(env)}" ${alice.pubKey}`,
        `restrict,pty,command="${shellFor(alone)}" ${aliceAlone.pubKey}`,
      ],
    });
    stops.push(() => sshd.stop());
    const server = await startServer(env, SERVER_PORT);
    stops.push(() => server.stop());

    const ways = {
      baseline: [...sshOpts(baseKey, SSHD_PORT, KEX), 'root@127.0.0.1', 'ps'],
      'dcm-server': [...sshOpts(alice.keyFile, SERVER_PORT, KEX), 'alice@127.0.0.1', 'show'],
      'dcm-shell': [...sshOpts(alice.keyFile, SSHD_PORT, KEX), 'root@127.0.0.1', 'show'],
      'dcm-shell-alone': [...sshOpts(aliceAlone.keyFile, SSHD_PORT, KEX), 'root@127.0.0.1', 'show'],
    };
    const times: Record<keyof typeof ways, number[]> = { baseline: [], 'dcm-server': [], 'dcm-shell': [], 'dcm-shell-alone': [] };
    for (const args of Object.values(ways)) for (let i = 0; i < 3; i++) await timed(args); // warm caches
    for (let i = 0; i < rounds && Date.now() < DEADLINE; i++) {
      for (const [name, args] of Object.entries(ways)) times[name as keyof typeof ways].push(await timed(args));
    }
    const base = median(times.baseline);
    console.log(`ssh round trip, ${times.baseline.length} rounds, median ms (same client, kex curve25519-sha256):`);
    for (const [name, xs] of Object.entries(times)) {
      const m = median(xs);
      console.log(`  ${name.padEnd(15)} ${m.toFixed(1).padStart(7)} ms   ratio ${(m / base).toFixed(2)}`);
    }
    console.log(`ratio dcm-server/baseline: ${(median(times['dcm-server']) / base).toFixed(2)} (target <= 1.0)`);
    console.log(
      `ratio dcm-shell/baseline:  ${(median(times['dcm-shell']) / base).toFixed(2)} (target <= 1.3; ${(median(times['dcm-shell-alone']) / base).toFixed(2)} when no dcm-server runs)`,
    );
  } finally {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    await env.cleanup();
    await alone.cleanup();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
