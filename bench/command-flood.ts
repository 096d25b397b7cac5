/**
 * bench/command-flood: one user floods dcm-server with commands while
 * another runs `show`. mallory fires commands from 16 loops over one SSH
 * connection for 15 s (the default limits: 10 sessions, 600 commands a minute
 * with bursts of 100), alice runs `show` one after another. Prints how
 * mallory's commands were answered (ran, over the rate, over the session
 * limit), alice's idle median and her p99 during the flood, and their ratio
 * (target <= 3). Bounded: 15 s and 3,000 commands.
 *
 * mallory's client runs in a process of its own (this file with --mallory),
 * as another user's would: in one process, alice's timings also counted the
 * bench's own event loop, busy with mallory's 16 loops. alice's shows run for
 * the whole flood (up to 200), so that p99 is not just the slowest of a few.
 *
 *   npm run bench:command-flood
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { TestEnv } from '../test/helpers/env.js';
import { tp } from '../test/helpers/ports.js';
import { clientCfg, sleep, ssh2Connect, ssh2Exec, startServer, type ServerProc } from '../test/helpers/ssh.js';
import { pct } from '../test/helpers/stats.js';

const PORT = tp(31998);
const FLOOD_MS = 15_000;

async function main(): Promise<void> {
  const env = new TestEnv({ tag: 'benchflood', sshPorts: '31990-31994' });
  let server: ServerProc | undefined;
  let flood: ChildProcess | undefined;
  try {
    await env.registerBase();
    const alice = await env.addUser('alice');
    const mallory = await env.addUser('mallory');
    const made = await env.dcm('alice', 'create');
    if (made.code !== 0) throw new Error(`create: ${made.stderr}`);
    server = await startServer(env, PORT);
    const a = await ssh2Connect(clientCfg(PORT, 'alice', alice.keyFile));
    const aliceShow = async (): Promise<number> => {
      const t0 = process.hrtime.bigint();
      const r = await ssh2Exec(a, 'show');
      if (r.code !== 0) throw new Error(`alice's show exited ${r.code}: ${r.stderr}`);
      return Number(process.hrtime.bigint() - t0) / 1e6;
    };
    for (let i = 0; i < 3; i++) await aliceShow();
    const idle: number[] = [];
    for (let i = 0; i < 30; i++) idle.push(await aliceShow());

    flood = spawn(process.execPath, [process.argv[1]!, '--mallory', String(PORT), mallory.keyFile], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: flood.stdout! })[Symbol.asyncIterator]();
    if ((await lines.next()).value !== 'flooding') throw new Error('the flood did not start');
    const t0 = Date.now();
    await sleep(500);
    const busy: number[] = [];
    while (Date.now() - t0 < FLOOD_MS - 500 && busy.length < 200) busy.push(await aliceShow());
    const { sent, answers } = JSON.parse((await lines.next()).value as string) as { sent: number; answers: Record<string, number> };
    a.end();
    const secs = (Date.now() - t0) / 1000;
    const med = pct(idle, 50);
    const p99 = pct(busy, 99);
    console.log(`mallory: ${sent} commands in ${secs.toFixed(1)} s from 16 loops on one connection (default limits):`);
    console.log(
      `  ${answers.ran} ran, ${answers.rate} over the rate, ${answers.session} over the session limit, ${answers.other} otherwise`,
    );
    console.log(
      `alice's show: idle median ${med.toFixed(1)} ms; during the flood p50 ${pct(busy, 50).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms (${busy.length} runs)`,
    );
    console.log(`ratio flood p99 / idle median: ${(p99 / med).toFixed(2)} (target <= 3)`);
    if (p99 > 3 * med) process.exitCode = 1;
  } finally {
    if (flood?.exitCode === null) flood.kill(); // by its pid: the one this bench started
    await server?.stop().catch(() => undefined);
    await env.cleanup();
  }
}

/** mallory's side, in a process of its own: 16 loops of `show` on one connection; the answers as JSON on stdout. */
async function runFlood(port: number, keyFile: string): Promise<void> {
  const m = await ssh2Connect(clientCfg(port, 'mallory', keyFile));
  const answers = { ran: 0, rate: 0, session: 0, other: 0 };
  let sent = 0;
  console.log('flooding');
  const t0 = Date.now();
  const loop = async () => {
    while (Date.now() - t0 < FLOOD_MS && sent < 3000) {
      sent++;
      const r = await ssh2Exec(m, 'show').catch(() => ({ code: -1, stderr: 'channel refused' }));
      if (r.code === 0) answers.ran++;
      else if (r.stderr.includes('too many commands')) answers.rate++;
      else if (r.stderr.includes('too many open sessions')) answers.session++;
      else answers.other++;
    }
  };
  await Promise.all(Array.from({ length: 16 }, loop));
  m.end();
  console.log(JSON.stringify({ sent, answers }));
}

const at = process.argv.indexOf('--mallory');
(at > 0 ? runFlood(Number(process.argv[at + 1]), process.argv[at + 2]!) : main()).catch((e) => {
  console.error(e);
  process.exit(1);
});
