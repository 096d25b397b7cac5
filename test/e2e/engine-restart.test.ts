/**
 * The container engine fails under dcm, on a dockerd of this file's own
 * (helpers/own-engine.ts; the shared engine is never touched):
 * - frozen (SIGSTOP: its socket open, nothing answered) and stopped while
 *   dcm-server has sessions open: the sessions stay, every command answers
 *   "container engine unavailable" (exit 6) within seconds, and once the
 *   engine is back the same sessions work again, without restarting dcm;
 * - restarted: containers that were running come back running on the same
 *   ports with the same sshd host key, stopped ones stay stopped, a paused
 *   one comes back running, and reconcile finds nothing to repair.
 * The figures (answer times while down, recovery time) go to the test log.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { type TestEnv, sshInto, type TestUser } from '../helpers/env.js';
import { installationOn, startOwnEngine, type OwnEngine } from '../helpers/own-engine.js';
import { KEY, Typist, hostKeyAt, sleep, ssh, startServer, until } from '../helpers/ssh.js';
import { tp } from '../helpers/ports.js';
import { DockerEngine } from '../../src/engine/docker-engine.js';

const PORT = tp(32600);
const EXTRA_PORT = tp(32630);
/** Longest a command may take to answer while the engine is down (the watchdog's bound plus a busy machine's slack). */
const DOWN_ANSWER_MS = 8000;
/** What `--json` prints on stdout for the refusal. */
const UNAVAILABLE_JSON = '{"error":"container engine unavailable"}\n';

let engine: OwnEngine;
let env: TestEnv;

before(async () => {
  engine = await startOwnEngine();
  env = await installationOn(engine, { tag: 'engrestart', sshPorts: '32610-32629', extraPorts: `${EXTRA_PORT}-${tp(32639)}` });
});

after(async () => {
  // The installation's objects live in the own engine, which goes as a whole.
  await engine?.stop();
  await env?.cleanup();
});

interface Shown {
  id: number;
  state: string;
  ports: { container: number; host: number; ip: string }[];
  end: { exitCode: number | null } | null;
}

test('engine frozen, stopped and started again under dcm-server: sessions stay, commands say "container engine unavailable" within seconds, then work again', async (t) => {
  const alice: TestUser = await env.addUser('alice');
  const server = await startServer(env, PORT);
  const session = Typist.ssh(alice.keyFile, PORT, 'alice');
  const show = () => ssh(alice.keyFile, PORT, 'alice', ['show', '--json']);
  try {
    const made = await ssh(alice.keyFile, PORT, 'alice', ['create', '--json']);
    assert.equal(made.code, 0, made.stderr);
    const id = (JSON.parse(made.stdout) as Shown).id;
    let at = await session.expect(/alice@dcm> /);
    session.type(`show${KEY.enter}`);
    at = await session.expect(new RegExp(`\\n${id} +- +\\S+ +running [\\s\\S]*alice@dcm> `), at);

    // Frozen: the socket takes connections and nothing answers.
    engine.freeze();
    let t0 = Date.now();
    const frozen = await show();
    const frozenMs = Date.now() - t0;
    assert.deepEqual([frozen.code, frozen.stderr, frozen.stdout], [6, 'dcm: container engine unavailable\n', UNAVAILABLE_JSON]);
    assert.ok(frozenMs < DOWN_ANSWER_MS, `answered after ${frozenMs} ms with the engine frozen`);
    session.type(`show ${id}${KEY.enter}`);
    at = await session.expect(/\ndcm: container engine unavailable\n[\s\S]*alice@dcm> /, at, DOWN_ANSWER_MS);
    engine.thaw();

    // Stopped, as a service manager stops it (its containers stop with it).
    const follow = ssh(alice.keyFile, PORT, 'alice', ['logs', '-f', String(id)]);
    await sleep(500);
    await engine.stopDaemon();
    t0 = Date.now();
    const down = await show();
    const downMs = Date.now() - t0;
    assert.deepEqual([down.code, down.stderr, down.stdout], [6, 'dcm: container engine unavailable\n', UNAVAILABLE_JSON]);
    assert.ok(downMs < DOWN_ANSWER_MS, `answered after ${downMs} ms with the engine stopped`);
    // A follow in flight ends with the engine; it does not hang nor take the server down.
    const followed = await follow;
    assert.ok([0, 6].includes(followed.code), `logs -f ended with ${followed.code}: ${followed.stderr}`);
    session.type(`stop ${id}${KEY.enter}`);
    at = await session.expect(/\ndcm: container engine unavailable\n[\s\S]*alice@dcm> /, at, DOWN_ANSWER_MS);

    // Back: the same server and session work again.
    const t1 = Date.now();
    await engine.startDaemon();
    const engineUpMs = Date.now() - t1;
    const recoverMs = await until('show works again', async () => (await show()).code === 0, 20_000);
    const [shown] = JSON.parse((await show()).stdout) as Shown[];
    assert.deepEqual([shown!.id, shown!.state], [id, 'running'], 'the container came back with the engine');
    session.type(`show${KEY.enter}`);
    at = await session.expect(new RegExp(`\\n${id} +- +\\S+ +running [\\s\\S]*alice@dcm> `), at);
    assert.equal(server.proc.exitCode, null, 'dcm-server kept running');
    t.diagnostic(
      `answer with the engine frozen: ${frozenMs} ms; stopped: ${downMs} ms; ` +
        `engine start: ${engineUpMs} ms; commands work again ${recoverMs} ms after the engine answers`,
    );
  } finally {
    engine.thaw();
    session.kill();
    await server.stop();
    if ((await engine.docker('info', '--format', '{{.ID}}')).code !== 0) await engine.startDaemon();
  }
});

test('engine restarted: running containers come back on the same ports with the same host key, stopped ones stay stopped, a paused one runs', async (t) => {
  const bob = await env.addUser('bob');
  const up = await env.dcmJson<Shown>('bob', 'create', '--name', 'up', '--port', String(EXTRA_PORT));
  const down = await env.dcmJson<Shown>('bob', 'create', '--name', 'down');
  const frozen = await env.dcmJson<Shown>('bob', 'create', '--name', 'frozen');
  assert.equal((await env.dcm('bob', 'stop', 'down')).code, 0);
  assert.equal((await env.dcm('bob', 'pause', 'frozen')).code, 0);
  const inspect = async (id: number) => JSON.parse((await engine.docker('inspect', env.dockerName(id))).stdout)[0];
  const before = await inspect(up.id);
  assert.equal(before.HostConfig.RestartPolicy.Name, 'unless-stopped');
  // What reconcile does to a container an earlier dcm made without a policy, on the real engine.
  assert.equal((await engine.docker('update', '--restart', 'no', env.dockerName(down.id))).code, 0);
  await new DockerEngine(engine.socket).setRestartPolicy((await inspect(down.id)).Id);
  assert.equal((await inspect(down.id)).HostConfig.RestartPolicy.Name, 'unless-stopped');
  const key = await hostKeyAt(up.id);
  assert.match(key, /^ssh-ed25519 /);

  const t0 = Date.now();
  await engine.stopDaemon();
  const t1 = Date.now();
  await engine.startDaemon();
  const t2 = Date.now();
  const sshMs = await until('the running container answers ssh', async () => (await hostKeyAt(up.id)) !== '', 30_000);
  t.diagnostic(`engine stop ${t1 - t0} ms, start ${t2 - t1} ms; the container's sshd answered ${sshMs} ms after the engine did`);

  assert.equal(await hostKeyAt(up.id), key, 'same host key on the same port');
  const login = await sshInto(bob.keyFile, 'root', '127.0.0.1', up.id, 'echo in');
  assert.deepEqual([login.code, login.stdout], [0, 'in\n'], login.stderr);
  const after = await inspect(up.id);
  assert.deepEqual(after.NetworkSettings.Ports, before.NetworkSettings.Ports, 'the same published ports');

  // The engine starts the containers it restores in the background: wait for both that ran.
  let shown = new Map<number, Shown>();
  await until('both containers that ran are running again', async () => {
    shown = new Map((await env.dcmJson<Shown[]>('bob', 'show')).map((c) => [c.id, c]));
    return shown.get(up.id)?.state === 'running' && shown.get(frozen.id)?.state === 'running';
  });
  assert.deepEqual(
    [up, down, frozen].map((c) => [c.id, shown.get(c.id)?.state]),
    [
      [up.id, 'running'],
      [down.id, 'exited'],
      [frozen.id, 'running'],
    ],
  );
  assert.deepEqual(shown.get(up.id)!.ports, [{ container: EXTRA_PORT, host: EXTRA_PORT, ip: '127.0.0.1' }]);
  // Reconcile agrees: nothing is missing, nothing is extra, every container has the policy.
  const rec = await env.tool('admin', 'reconcile');
  assert.deepEqual([rec.code, rec.stdout, rec.stderr], [0, 'nothing to repair\n', '']);
  assert.equal((await env.dcmJson<Shown[]>('bob', 'show')).length, 3);
});
