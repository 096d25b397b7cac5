/**
 * bench/create-burst: 200 creates at once from 20 users through dcm-server on
 * the real engine (10 each, every user on its own SSH connection; every 10th
 * create asks for one of 4 GPUs, every 7th for one of 3 extra host ports), then
 * the same number of plain `docker run -d`s of the same image at once, in the
 * same run. Prints both wall times and their ratio, how many creates were made
 * or refused (and with which lines), and checks that no host ip:port or GPU
 * was given twice and that the database and the engine agree. Cleans up all.
 * Bounded: 200 creates, ready_timeout 300 s.
 *
 *   npm run bench:create-burst [-- --users N --per-user K]
 */
import { BASE_IMAGE, type TestUser } from '../test/helpers/env.js';
import { tp } from '../test/helpers/ports.js';
import { startServer, type ServerProc } from '../test/helpers/ssh.js';
import { burstEnv, burstProblems, burstWords, createBurst, fakeGpuNodes, rawDockerRuns } from '../test/helpers/create-burst.js';

const arg = (name: string, dflt: number, max: number) => Math.min(Number(process.argv[process.argv.indexOf(name) + 1]) || dflt, max);
const USERS = arg('--users', 20, 20);
const PER_USER = arg('--per-user', 10, 10);
const PORT = tp(31999);
const EXTRA_PORTS = [tp(31995), tp(31996), tp(31997)];

async function main(): Promise<void> {
  const gpus = await fakeGpuNodes(4);
  const env = burstEnv('benchburst', '31800-31994', gpus.yaml, {
    probeTimeout: 60,
    readyTimeout: 300,
    startupsPerAddress: USERS + 10,
    subnetsFrom: 180,
  });
  let server: ServerProc | undefined;
  try {
    await env.registerBase();
    const users: TestUser[] = [];
    for (let i = 0; i < USERS; i++) users.push(await env.addUser(`burst${i}`));
    const n = USERS * PER_USER;

    const raw = await rawDockerRuns(env, BASE_IMAGE, n);
    server = await startServer(env, PORT);
    const { answers, wallMs } = await createBurst(PORT, users, PER_USER, (i) =>
      burstWords(i, { gpuEvery: 10, portEvery: 7, ports: EXTRA_PORTS }),
    );
    const made = answers.filter((a) => a.code === 0).length;
    const lines = new Map<string, number>();
    for (const a of answers.filter((x) => x.code !== 0)) {
      const k = `exit ${a.code}: ${a.stderr.trim().replace(/\d{4,5}/g, 'N')}`;
      lines.set(k, (lines.get(k) ?? 0) + 1);
    }
    const problems = await burstProblems(env);
    const unclear = answers.filter((a) => a.code !== 0 && (!/^dcm: [^\n]+\n$/.test(a.stderr) || a.stderr.includes('internal error')));

    console.log(`${n} creates at once from ${USERS} users through dcm-server (real engine):`);
    console.log(`  made ${made}, refused ${n - made}`);
    for (const [k, c] of lines) console.log(`    ${c} x ${k}`);
    console.log(`  wall time ${(wallMs / 1000).toFixed(1)} s`);
    console.log(
      `${n} plain docker run -d at once: wall time ${(raw.wallMs / 1000).toFixed(1)} s (${raw.failed} failed${raw.failed ? `: ${raw.firstError}` : ''})`,
    );
    console.log(`ratio dcm creates / docker runs: ${(wallMs / raw.wallMs).toFixed(2)}`);
    console.log(`invariants: ${problems.length ? problems.join('; ') : 'no ip:port or GPU given twice; database and engine agree'}`);
    // What the server told the administrator about creates that failed inside dcm (at most 5 lines).
    const internal = (server.log().match(/^.*create.*(failed|did not start).*\[.*$/gm) ?? []).slice(0, 5);
    for (const l of internal) console.log(`  server log: ${l}`);
    if (unclear.length) console.log(`unclear refusals: ${unclear.map((a) => JSON.stringify(a.stderr)).join(' ')}`);
    if (problems.length || unclear.length) process.exitCode = 1;
  } finally {
    await server?.stop().catch(() => undefined);
    await env.cleanup();
    gpus.remove();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
