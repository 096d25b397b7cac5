/**
 * A bounded burst of creates through dcm-server on the real engine: 30 at once
 * from 6 users, some racing for 2 GPUs and some for the same extra host port.
 * Each succeeds or gets one clear line; no host ip:port or GPU is given twice;
 * the database and the engine agree afterwards (bench/create-burst.ts runs
 * 200 from 20 users and compares with plain `docker run`s).
 */
import { tp } from '../helpers/ports.js';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestEnv, TestUser } from '../helpers/env.js';
import { endSuite, startServer, type ServerProc } from '../helpers/ssh.js';
import { burstEnv, burstProblems, burstWords, createBurst, fakeGpuNodes } from '../helpers/create-burst.js';

const PORT = tp(32801);
const USERS = 6;
const PER_USER = 5;
const EXTRA_PORTS = [tp(32990), tp(32991)];

let gpus: Awaited<ReturnType<typeof fakeGpuNodes>>;
let env: TestEnv;
let server: ServerProc | undefined;
const users: TestUser[] = [];

before(async () => {
  gpus = await fakeGpuNodes(2);
  // A busy machine must not turn a slow start into a refusal: the races are what is tested.
  env = burstEnv('burst', '32820-32869', gpus.yaml, { probeTimeout: 30, readyTimeout: 120, startupsPerAddress: 20, subnetsFrom: 120 });
  await env.registerBase();
  for (let i = 0; i < USERS; i++) users.push(await env.addUser(`burst${i}`));
  server = await startServer(env, PORT);
});
after(async () => {
  await endSuite(server, env);
  gpus.remove();
});

test('30 creates at once from 6 users: each succeeds or gets one clear line; nothing is given twice; database and engine agree', {
  timeout: 240_000,
}, async () => {
  const { answers, wallMs } = await createBurst(PORT, users, PER_USER, (i) =>
    burstWords(i, { gpuEvery: 6, portEvery: 4, ports: EXTRA_PORTS }),
  );
  const made = answers.filter((a) => a.code === 0);
  const refused = answers.filter((a) => a.code !== 0);
  for (const a of made) assert.equal(typeof JSON.parse(a.stdout).id, 'number', a.stdout);
  for (const a of refused) {
    assert.match(a.stderr, /^dcm: [^\n]+\n$/, `${a.words}: ${JSON.stringify(a.stderr)}`);
    assert.doesNotMatch(a.stderr, /internal error/);
    assert.equal(JSON.parse(a.stdout).error, a.stderr.slice(5, -1), 'the --json answer says the same');
  }
  const gpuAsks = answers.filter((a) => a.words.includes('--gpus'));
  assert.equal(gpuAsks.filter((a) => a.code === 0).length, 2, 'both GPUs are taken, once each');
  for (const a of gpuAsks.filter((x) => x.code !== 0)) {
    assert.equal(a.code, 5, a.stderr);
    assert.match(a.stderr, /free — policy: gpus \(exclusive reservation\)/);
  }
  // Creates that asked for nothing contested all succeed.
  assert.deepEqual(
    answers.filter((a) => a.words === 'create --json' && a.code !== 0).map((a) => a.stderr),
    [],
  );
  assert.deepEqual(await burstProblems(env), []);
  const ids = made.map((a) => JSON.parse(a.stdout).id as number);
  assert.equal(new Set(ids).size, ids.length, 'every id (SSH port) once');
  console.log(
    `# ${answers.length} creates in ${wallMs} ms: ${made.length} made, ${refused.length} refused (${[...new Set(refused.map((a) => a.stderr.trim()))].join(' | ')})`,
  );
});
