/**
 * The composition root: openServer wires dcm-server in-process (policy,
 * store, fake engine, managers, core, SSH server, command sockets), a real
 * ssh2 client and the root command socket get answers from it, the app
 * follows the live policy, and stop() leaves nothing open.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { openServer, type RunningServer } from '../../src/main.js';
import { forwardCommand } from '../../src/local/command-client.js';
import { gatherDoorFacts } from '../../src/local/door-facts.js';
import { rootSocketPath } from '../../src/paths.js';
import { FakeEngine } from '../helpers/fake-engine.js';
import { tpRange } from '../helpers/ports.js';
import { clientCfg, ssh2Connect, ssh2Exec } from '../helpers/ssh.js';
import { tempDir } from '../helpers/tmp.js';

const NET = { isPortFree: async () => true, waitForSsh: async () => true };

/** A state dir with its config, a server on port 0 over the fake engine, and alice with a key of her own. */
async function serve(
  host = 'dcm.test',
): Promise<{ server: RunningServer; engine: FakeEngine; keyFile: string; configFile: string; lines: string[] }> {
  const dir = tempDir('dcm-open-server-');
  const configFile = join(dir, 'config.yaml');
  const yaml = (h: string) =>
    `host: ${h}\ninstance: t-open-server\nnetwork:\n  ssh_ports: "${tpRange('33300-33309')}"\n  ip_aliases: ["127.0.0.1"]\n`;
  writeFileSync(configFile, yaml(host));
  const keyFile = join(dir, 'alice_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'alice@test', '-f', keyFile]);
  const engine = new FakeEngine();
  const lines: string[] = [];
  const server = await openServer({ stateDir: dir, configFile, listen: '127.0.0.1:0', engine, net: NET, log: (l) => lines.push(l) });
  const base = engine.addImage('dcm/debian-base:bookworm');
  server.app.store.images.insert({ ref: 'dcm/debian-base:bookworm', docker_id: base, owner: null, source: null });
  server.app.users.add({ name: 'alice', keys: [readFileSync(`${keyFile}.pub`, 'utf8').trim()], groups: [] });
  return { server, engine, keyFile, configFile, lines };
}

test('openServer on port 0 answers commands over ssh2 and over the root command socket, and stops cleanly', async () => {
  const { server, engine, keyFile, lines } = await serve();
  const { port } = server.address;
  assert.notEqual(port, 0, 'the port the system chose is reported');
  assert.ok(
    lines.some((l) => /^host key .*ssh_host_ed25519_key \(new\): ED25519 SHA256:/.test(l)),
    lines.join('\n'),
  );
  assert.ok(lines.includes('reconcile: nothing to repair'), lines.join('\n'));

  const c = await ssh2Connect(clientCfg(port, 'alice', keyFile));
  try {
    const empty = await ssh2Exec(c, 'show --json');
    assert.deepEqual(empty, { code: 0, stdout: '[]\n', stderr: '' });
    const made = await ssh2Exec(c, 'create --name lab --json');
    assert.equal(made.code, 0, made.stderr);
    assert.equal(JSON.parse(made.stdout).name, 'lab');
    assert.equal(engine.containers.size, 1, 'the fake engine given to openServer made it');
    const bad = await ssh2Exec(c, 'show --bogus');
    assert.deepEqual(bad, { code: 2, stdout: '', stderr: 'dcm: show: unknown option --bogus (try "help show")\n' });
  } finally {
    c.end();
  }

  // The same core behind the root socket (this test runs as root).
  const sock = rootSocketPath(server.app.config.stateDir);
  let stdout = '';
  let stderr = '';
  const collect = {
    write: async (t: string) => {
      stdout += t;
    },
    line: (t: string) => {
      stderr += `${t}\n`;
    },
    raw: async (d: Buffer) => {
      stdout += d.toString();
    },
  };
  const viaSocket = await forwardCommand(sock, gatherDoorFacts('alice'), { door: 'local', words: ['show', 'lab', '--json'] }, collect);
  assert.equal(viaSocket?.code, 0, stderr);
  assert.equal(JSON.parse(stdout).name, 'lab');

  await server.stop();
  // Nothing answers any more, and the store is closed.
  await assert.rejects(
    new Promise((resolve, reject) => connect(port, '127.0.0.1').on('connect', resolve).on('error', reject)),
    (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED',
  );
  assert.equal(
    await forwardCommand(sock, gatherDoorFacts('alice'), { door: 'local', words: ['show'] }, collect),
    null,
    'no server behind the socket',
  );
  assert.throws(() => server.app.store.users.get('alice'), /database connection is not open/);
});

test("the server's app and core read the live policy: a changed file is in force without a restart", async () => {
  const { server, configFile, lines } = await serve('before.test');
  try {
    assert.equal(server.app.core.deps.config.host, 'before.test');
    const next = `${configFile}.new`;
    writeFileSync(next, readFileSync(configFile, 'utf8').replace('host: before.test', 'host: after.test'));
    renameSync(next, configFile);
    const deadline = Date.now() + 10_000;
    while (!lines.includes('configuration reloaded (file)') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(lines.includes('configuration reloaded (file)'), lines.join('\n'));
    assert.equal(server.app.config.host, 'after.test');
    assert.equal(server.app.core.deps.config.host, 'after.test');
  } finally {
    await server.stop();
  }
});

test('openServer refuses a bad listen address with one line and leaves nothing open', async () => {
  const dir = tempDir('dcm-open-server-');
  const configFile = join(dir, 'config.yaml');
  writeFileSync(configFile, '{}\n');
  await assert.rejects(
    openServer({ stateDir: dir, configFile, listen: 'nowhere', engine: new FakeEngine(), net: NET, log: () => {} }),
    (e: Error) => e.message === '--listen nowhere: expected ADDR:PORT, e.g. 127.0.0.1:2222',
  );
  assert.equal(existsSync(join(dir, 'dcm.db')), false, 'the store was never opened');
});
