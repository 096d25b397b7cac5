/**
 * bench/create-ready: time from "create" to the first successful `ssh -p`
 * login, against a raw `docker run` of the same image with sshd and a
 * published port (then ssh), alternating in one run. Three ways through dcm:
 *   - server: `create --json` as an exec request on a user's open SSH
 *     connection to a real dcm-server (the way users reach dcm);
 *   - shell: the command core in this process, without SSH (what the server
 *     adds on top of the core is the difference between the two);
 *   - cli:   a fresh `dcm create` process per create (the local door) while
 *     dcm-server serves the installation (the command goes to its socket);
 *   - cli-alone: the same for an installation no dcm-server serves, where the
 *     process loads the whole program for each command.
 * Prints the medians and each ratio to raw (target ≤ 1.15).
 *
 *   npm run bench:create-ready [-- --rounds N]
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, copyFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { TestEnv, run, sshInto, BASE_IMAGE, BIN } from '../test/helpers/env.js';
import { tp } from '../test/helpers/ports.js';
import { openApp } from '../src/main.js';
import { clientCfg, ssh2Connect, ssh2Exec, startServer } from '../test/helpers/ssh.js';
import { median } from '../test/helpers/stats.js';
import { doorEnv, doorPair } from './door-pair.js';

const rounds = Math.min(Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 7, 30);
const DEADLINE = Date.now() + 10 * 60 * 1000;

async function untilLogin(key: string, port: number): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const r = await sshInto(key, 'root', '127.0.0.1', port, 'true');
    if (r.code === 0) return;
    await new Promise((res) => setTimeout(res, 20));
  }
  throw new Error(`no login on port ${port}`);
}

/** `dcm --user bench ARGS --json` with the environment a door really starts with (doorEnv). */
function cliJson(e: TestEnv, ...args: string[]): Promise<{ id: number; sshPort: number }> {
  const env = doorEnv(e);
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [BIN.dcm, '--user', 'bench', ...args, '--json'], { env }, (err, stdout, stderr) => {
      if (err) reject(new Error(`dcm ${args.join(' ')}: ${stderr}`));
      else resolve(JSON.parse(stdout));
    });
  });
}

async function main(): Promise<void> {
  const env = new TestEnv({ tag: 'bench', sshPorts: '33600-33649' });
  const alone = new TestEnv({ tag: 'bench2', sshPorts: '33650-33689' });
  try {
    const u = await doorPair(env, alone);
    // The raw baseline gets the same key as root's authorized_keys.
    const rawKeys = join(env.stateDir, 'raw-ssh');
    mkdirSync(rawKeys, { mode: 0o700 });
    copyFileSync(`${u.keyFile}.pub`, join(rawKeys, 'authorized_keys'));
    chmodSync(join(rawKeys, 'authorized_keys'), 0o600);
    const app = await openApp({ stateDir: env.stateDir, configFile: env.configFile });
    const { core } = app;
    const server = await startServer(env, tp(33690));
    const conn = await ssh2Connect(clientCfg(tp(33690), 'bench', u.keyFile));
    const serverTimes: number[] = [];
    const aloneTimes: number[] = [];
    const dcmTimes: number[] = [];
    const shellTimes: number[] = [];
    const rawTimes: number[] = [];
    const rawNetTimes: number[] = [];
    const rawNet = `${env.instance}-raw-net`;
    execFileSync('docker', ['network', 'create', '--label', `dcm.instance=${env.instance}`, rawNet], { stdio: 'ignore' });
    for (let i = 0; i < rounds && Date.now() < DEADLINE; i++) {
      let t = performance.now();
      const c = await cliJson(env, 'create');
      await untilLogin(u.keyFile, c.sshPort);
      dcmTimes.push(performance.now() - t);
      await env.dcm('bench', 'rm', '-f', String(c.id));

      t = performance.now();
      const out = await core.run('bench', ['create', '--json']);
      if (out.code !== 0) throw new Error(out.stderr);
      const s = JSON.parse(out.stdout) as { sshPort: number };
      await untilLogin(u.keyFile, s.sshPort);
      shellTimes.push(performance.now() - t);
      await core.run('bench', ['rm', '-f', String(s.sshPort)]);

      t = performance.now();
      const ca = await cliJson(alone, 'create');
      await untilLogin(u.keyFile, ca.sshPort);
      aloneTimes.push(performance.now() - t);
      await alone.dcm('bench', 'rm', '-f', String(ca.id));

      t = performance.now();
      const viaServer = await ssh2Exec(conn, 'create --json');
      if (viaServer.code !== 0) throw new Error(viaServer.stderr);
      const v = JSON.parse(viaServer.stdout) as { sshPort: number };
      await untilLogin(u.keyFile, v.sshPort);
      serverTimes.push(performance.now() - t);
      await ssh2Exec(conn, `rm -f ${v.sshPort}`);

      // Raw docker run twice: on the default bridge, and on a network of its own as
      // dcm's containers are (what Docker itself charges for that isolation).
      const rawRun = async (port: number, network: string[]) => {
        const t0 = performance.now();
        const r = await run('docker', [
          'run',
          '-d',
          '--label',
          `dcm.instance=${env.instance}`,
          ...network,
          '-p',
          `127.0.0.1:${port}:22`,
          '-v',
          `${rawKeys}:/root/.ssh:ro`,
          BASE_IMAGE,
          'sh',
          '-c',
          "ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key && mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e",
        ]);
        if (r.code !== 0) throw new Error(r.stderr);
        await untilLogin(u.keyFile, port);
        const ms = performance.now() - t0;
        execFileSync('docker', ['rm', '-f', r.stdout.trim()], { stdio: 'ignore' });
        return ms;
      };
      rawTimes.push(await rawRun(tp(33700) + i, []));
      rawNetTimes.push(await rawRun(tp(33800) + i, ['--network', rawNet]));
      process.stderr.write(
        `round ${i + 1}: server ${serverTimes.at(-1)!.toFixed(0)} ms, shell ${shellTimes.at(-1)!.toFixed(0)} ms, cli ${dcmTimes.at(-1)!.toFixed(0)} ms, cli-alone ${aloneTimes.at(-1)!.toFixed(0)} ms, raw ${rawTimes.at(-1)!.toFixed(0)} ms, raw on its own network ${rawNetTimes.at(-1)!.toFixed(0)} ms\n`,
      );
    }
    conn.end();
    await server.stop();
    app.close();
    const r = median(rawTimes);
    const line = (name: string, xs: number[]) => `${name} median ${median(xs).toFixed(0)} ms, ratio ${(median(xs) / r).toFixed(2)}`;
    console.log(
      `create-ready (${rawTimes.length} rounds): raw docker run median ${r.toFixed(0)} ms; ${line('dcm-server session', serverTimes)}; ${line('in-process core', shellTimes)}; ${line('dcm cli process', dcmTimes)}; ${line('dcm cli process, no dcm-server', aloneTimes)} (target <= 1.15)`,
    );
    // dcm's containers are on a network of their own (users isolated); the same for the raw run:
    const rn = median(rawNetTimes);
    const lineNet = (name: string, xs: number[]) => `${name} ratio ${(median(xs) / rn).toFixed(2)}`;
    console.log(
      `against raw docker run on a network of its own (median ${rn.toFixed(0)} ms): ${lineNet('dcm-server session', serverTimes)}; ${lineNet('in-process core', shellTimes)}; ${lineNet('dcm cli process', dcmTimes)}; ${lineNet('dcm cli process, no dcm-server', aloneTimes)}`,
    );
    execFileSync('docker', ['network', 'rm', rawNet], { stdio: 'ignore' });
  } finally {
    await env.cleanup();
    await alone.cleanup();
  }
}

void main();
