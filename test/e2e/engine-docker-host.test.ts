/**
 * Only the configured engine (engine.socket) is ever used. dockerode reads
 * DOCKER_HOST (and DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, …) from the
 * environment, and a tcp:// DOCKER_HOST used to win over the socket: whoever
 * set a dcm process's environment chose the engine it drove. Here a fake
 * engine on a loopback port records every connection; dcm and dcm-admin run
 * with DOCKER_HOST pointing at it (or at a socket that does not exist, with
 * certificate paths that do not exist) and still work against the real engine,
 * and the fake one is never contacted.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { BIN, TestEnv, dockerInspect, run } from '../helpers/env.js';
import { tp } from '../helpers/ports.js';

const env = new TestEnv({ tag: 'engdh', sshPorts: '32140-32149', extraYaml: 'defaults:\n  limits: { memory: 128m, cpus: 0.25 }\n' });
const FAKE_PORT = tp(32160);
let fake: Server;
let contacts = 0;

before(async () => {
  fake = createServer((s) => {
    contacts++;
    s.destroy();
  });
  await new Promise<void>((r) => fake.listen(FAKE_PORT, '127.0.0.1', r));
  await env.registerBase();
  await env.addUser('alice');
});
after(async () => {
  fake.close();
  await env.cleanup();
});

const hostile: Record<string, NodeJS.ProcessEnv> = {
  'tcp:// to a fake engine': { DOCKER_HOST: `tcp://127.0.0.1:${FAKE_PORT}` },
  'tcp:// with TLS and a certificate path': {
    DOCKER_HOST: `tcp://127.0.0.1:${FAKE_PORT}`,
    DOCKER_TLS_VERIFY: '1',
    DOCKER_CERT_PATH: '/nonexistent/certs',
  },
  'a unix socket that does not exist': { DOCKER_HOST: 'unix:///nonexistent/docker.sock', DOCKER_PATH_PREFIX: '/elsewhere' },
};

for (const [name, vars] of Object.entries(hostile)) {
  test(`DOCKER_HOST as ${name}: dcm and dcm-admin still use engine.socket, the other engine is never contacted`, {
    timeout: 120_000,
  }, async () => {
    contacts = 0;
    const e = { ...env.env, ...vars };
    const ls = await run(process.execPath, [BIN.admin, 'images', 'ls', '--json'], e);
    assert.equal(ls.code, 0, ls.stderr);
    const cr = await run(process.execPath, [BIN.dcm, '--user', 'alice', 'create', '--json'], e);
    assert.equal(cr.code, 0, cr.stderr);
    const c = JSON.parse(cr.stdout) as { id: number };
    const i = await dockerInspect(env.dockerName(c.id));
    assert.equal(i.State.Running, true, 'the container is in the configured engine');
    const rm = await env.dcm('alice', 'rm', '-f', String(c.id));
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(contacts, 0, 'the engine named by DOCKER_HOST was contacted');
  });
}
