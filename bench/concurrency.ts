/**
 * bench/concurrency: 100 `show` sessions at once against dcm-server, each a
 * separate OpenSSH client (own key exchange and login), after a sequential
 * run for the single-session median. Prints p50, p99, the ratio p99/single
 * (target ≤ 3) and the server's peak RSS from /proc (target ≤ 150 MB).
 * Done twice: with OpenSSH client processes (each ~13 ms of client CPU, so on
 * a 2-core box the clients alone take most of the burst), and with ssh2
 * clients in this process (cheap on the client side, so the figure shows the
 * server).
 * Bounded: 100 sessions, 2 minutes.
 *
 *   npm run bench:concurrency [-- --sessions N]
 */
import { readFileSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { TestEnv, run } from '../test/helpers/env.js';
import { tp } from '../test/helpers/ports.js';
import { clientCfg, ssh2Connect, ssh2Exec, sshOpts, startServer } from '../test/helpers/ssh.js';
import { pct } from '../test/helpers/stats.js';

const sessions = Math.min(Number(process.argv[process.argv.indexOf('--sessions') + 1]) || 100, 200);
const PORT = tp(33750);
const KEX = ['-o', 'KexAlgorithms=curve25519-sha256'];

function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** CPU seconds (user+system) of a process; with children=true, of its waited-for children. */
function cpuSeconds(pid: number | 'self', children = false): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  // fields[11..14] = utime stime cutime cstime (stat fields 14-17), in clock ticks
  const [ut, st, cut, cst] = fields.slice(11, 15).map(Number) as [number, number, number, number];
  return (children ? cut + cst : ut + st) / 100;
}

function dockerdPid(): number | null {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() === 'dockerd') return Number(d);
    } catch {
      /* gone */
    }
  }
  return null;
}

async function once(args: string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await run('ssh', args, {}, 60_000);
  if (r.code !== 0) throw new Error(`show exited ${r.code}: ${r.stderr.trim()}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function main(): Promise<void> {
  const env = new TestEnv({
    tag: 'benchconc',
    sshPorts: '33760-33799', // Every client comes from 127.0.0.1: the pre-login caps are raised like the session limit.
    extraYaml: `server:\n  max_sessions_per_user: ${sessions + 10}\n  max_startups: ${sessions + 10}\n  max_startups_per_address: ${sessions + 10}\n`,
  });
  let stop: (() => Promise<unknown>) | null = null;
  try {
    await env.registerBase();
    const alice = await env.addUser('alice');
    const made = await env.dcm('alice', 'create');
    if (made.code !== 0) throw new Error(`create: ${made.stderr}`);
    const server = await startServer(env, PORT);
    stop = () => server.stop();
    const args = [...sshOpts(alice.keyFile, PORT, [...KEX, '-o', 'ConnectTimeout=60']), 'alice@127.0.0.1', 'show'];
    for (let i = 0; i < 3; i++) await once(args);
    const single: number[] = [];
    for (let i = 0; i < 10; i++) single.push(await once(args));
    const singleMed = pct(single, 50);

    const dockerd = dockerdPid();
    const cpu0 = { server: cpuSeconds(server.proc.pid!), clients: cpuSeconds('self', true), dockerd: dockerd ? cpuSeconds(dockerd) : NaN };
    const t0 = Date.now();
    const results = await Promise.allSettled(Array.from({ length: sessions }, () => once(args)));
    const wall = Date.now() - t0;
    const ok = results.filter((r): r is PromiseFulfilledResult<number> => r.status === 'fulfilled').map((r) => r.value);
    const failed = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    const rss = peakRssMb(server.proc.pid!);
    const cpu = {
      server: cpuSeconds(server.proc.pid!) - cpu0.server,
      clients: cpuSeconds('self', true) - cpu0.clients,
      dockerd: dockerd ? cpuSeconds(dockerd) - cpu0.dockerd : NaN,
    };
    console.log(`${sessions} concurrent show sessions against dcm-server (OpenSSH clients, kex curve25519-sha256):`);
    console.log(
      `  succeeded   ${ok.length}/${sessions}${failed.length ? ` (first failure: ${String(failed[0]!.reason).slice(0, 200)})` : ''}`,
    );
    console.log(`  single      median ${singleMed.toFixed(1)} ms (sequential)`);
    console.log(`  concurrent  p50 ${pct(ok, 50).toFixed(1)} ms, p99 ${pct(ok, 99).toFixed(1)} ms, all done in ${wall} ms`);
    console.log(
      `  CPU during the burst (${cpus().length} cores): ssh clients ${cpu.clients.toFixed(2)} s, dcm-server ${cpu.server.toFixed(2)} s (${((cpu.server / sessions) * 1000).toFixed(1)} ms/session), dockerd ${cpu.dockerd.toFixed(2)} s`,
    );
    console.log(`ratio p99/single: ${(pct(ok, 99) / singleMed).toFixed(2)} (target <= 3)`);
    console.log(`server peak RSS: ${rss.toFixed(1)} MB (target <= 150)`);
    if (failed.length) process.exitCode = 1;

    // The same with ssh2 clients: connect, exec show, close.
    const cfg = clientCfg(PORT, 'alice', alice.keyFile, { readyTimeout: 60_000 });
    const viaSsh2 = async (): Promise<number> => {
      const t = process.hrtime.bigint();
      const c = await ssh2Connect(cfg);
      try {
        const r = await ssh2Exec(c, 'show');
        if (r.code !== 0) throw new Error(`show exited ${r.code}: ${r.stderr.trim()}`);
      } finally {
        c.end();
      }
      return Number(process.hrtime.bigint() - t) / 1e6;
    };
    for (let i = 0; i < 3; i++) await viaSsh2();
    const single2: number[] = [];
    for (let i = 0; i < 10; i++) single2.push(await viaSsh2());
    const s2 = pct(single2, 50);
    const srv0 = cpuSeconds(server.proc.pid!);
    const t1 = Date.now();
    const res2 = await Promise.allSettled(Array.from({ length: sessions }, () => viaSsh2()));
    const wall2 = Date.now() - t1;
    const ok2 = res2.filter((r): r is PromiseFulfilledResult<number> => r.status === 'fulfilled').map((r) => r.value);
    const srv = cpuSeconds(server.proc.pid!) - srv0;
    console.log(`${sessions} concurrent show sessions against dcm-server (ssh2 clients in one process):`);
    console.log(`  succeeded   ${ok2.length}/${sessions}`);
    console.log(`  single      median ${s2.toFixed(1)} ms (sequential)`);
    console.log(
      `  concurrent  p50 ${pct(ok2, 50).toFixed(1)} ms, p99 ${pct(ok2, 99).toFixed(1)} ms, all done in ${wall2} ms; dcm-server CPU ${srv.toFixed(2)} s`,
    );
    console.log(`ratio p99/single (ssh2 clients): ${(pct(ok2, 99) / s2).toFixed(2)} (target <= 3)`);
    console.log(`server peak RSS after both bursts: ${peakRssMb(server.proc.pid!).toFixed(1)} MB (target <= 150)`);
    if (ok2.length !== sessions) process.exitCode = 1;
  } finally {
    await stop?.().catch(() => undefined);
    await env.cleanup();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
