/**
 * The SSH algorithms on offer, checked with the ssh-audit tool: dcm-server and
 * the sshd that dcm's init script starts in every container offer only modern
 * ones (no NIST-curve key exchange, no SHA-1 or encrypt-and-MAC MAC, no
 * compression), OpenSSH and ssh2 clients still connect, and sites with old
 * clients can widen dcm-server's lists in the config, where an unknown name
 * stops the server with one line naming the field.
 */
import { tp } from '../helpers/ports.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import { TestEnv, run, sshInto, type TestUser } from '../helpers/env.js';
import { clientCfg, doorBin, ssh, ssh2Connect, ssh2Exec, startServer, type ServerProc } from '../helpers/ssh.js';
import { MODERN_ALGORITHMS, SUPPORTED_ALGORITHMS } from '../../src/ssh/algorithms.js';
import { resolveConfig } from '../../src/config.js';

const PORT = tp(30600);
const WIDE_PORT = tp(30601);
const BAD_PORT = tp(30602);

/**
 * ssh-audit's [fail] and [warn] findings, one string per finding, and whether
 * it reported compression off. Old ssh-audit releases call OpenSSH's
 * strict-kex marker an "unknown algorithm"; that one warning is expected.
 */
async function audit(port: number): Promise<{ findings: string[]; compressionOff: boolean; output: string }> {
  const r = await run('ssh-audit', ['-n', '-t', '10', '-p', String(port), '127.0.0.1'], {}, 60_000);
  const output = r.stdout + r.stderr;
  assert.match(output, /# key exchange algorithms/, `ssh-audit did not get through the handshake:\n${output}`);
  const findings: string[] = [];
  let current = '';
  for (const line of output.split('\n')) {
    const head = /^\((kex|key|enc|mac|gen)\) (\S+)/.exec(line);
    if (head) current = head[2]!;
    const f = /\[(fail|warn)\] (.*)$/.exec(line);
    if (!f) continue;
    if (current === 'kex-strict-s-v00@openssh.com' && f[2] === 'unknown algorithm') continue;
    findings.push(`${current}: ${f[1]} ${f[2]}`);
  }
  return { findings, compressionOff: /^\(gen\) compression: disabled$/m.test(output), output };
}

describe('SSH algorithms: dcm-server and container sshd pass ssh-audit', () => {
  const env = new TestEnv({ tag: 'sshalg', sshPorts: '30610-30619' });
  let server: ServerProc;
  let alice: TestUser;

  before(async () => {
    await env.registerBase();
    alice = await env.addUser('alice');
    server = await startServer(env, PORT);
  });
  after(async () => {
    await server?.stop();
    await env.cleanup();
  });

  test('dcm-server: no failure and no warning from ssh-audit, no compression, strict kex offered', async () => {
    const a = await audit(PORT);
    assert.deepEqual(a.findings, [], a.output);
    assert.ok(a.compressionOff, `compression is offered:\n${a.output}`);
    assert.match(a.output, /^\(kex\) kex-strict-s-v00@openssh\.com/m, 'strict key exchange (Terrapin) is offered');
    for (const bad of ['ecdh-sha2-nistp256', 'hmac-sha1', 'hmac-sha2-256 ', 'zlib', 'aes128-ctr', 'diffie-hellman-group14-sha1']) {
      assert.ok(!a.output.includes(`) ${bad}`), `${bad.trim()} is offered:\n${a.output}`);
    }
  });

  test('dcm-server: OpenSSH and ssh2 clients still connect with the modern defaults', async () => {
    const r = await ssh(alice.keyFile, PORT, 'alice', ['whoami']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /alice/);
    const c = await ssh2Connect(clientCfg(PORT, 'alice', alice.keyFile));
    try {
      const s = await ssh2Exec(c, 'show');
      assert.equal(s.code, 0, s.stderr);
    } finally {
      c.end();
    }
  });

  test('server.algorithms widens the offer for old clients; a client limited to an old algorithm is refused by default', async () => {
    const oldClient = { algorithms: { kex: ['diffie-hellman-group14-sha256' as const] } };
    await assert.rejects(ssh2Connect(clientCfg(PORT, 'alice', alice.keyFile, oldClient)), /no matching key exchange|Handshake failed/i);
    const wideEnv = new TestEnv({
      tag: 'sshalgw',
      sshPorts: '30620-30629',
      extraYaml: 'server:\n  algorithms:\n    kex: [curve25519-sha256, diffie-hellman-group14-sha256]\n',
    });
    let wide: ServerProc | undefined;
    try {
      const bob = await wideEnv.addUser('bob');
      wide = await startServer(wideEnv, WIDE_PORT);
      const c = await ssh2Connect(clientCfg(WIDE_PORT, 'bob', bob.keyFile, oldClient));
      try {
        assert.equal((await ssh2Exec(c, 'show')).code, 0);
      } finally {
        c.end();
      }
      const a = await audit(WIDE_PORT);
      assert.match(a.output, /^\(kex\) diffie-hellman-group14-sha256/m);
      assert.ok(!a.output.includes(') curve25519-sha256@libssh.org'), 'the configured list replaces the default one');
    } finally {
      await wide?.stop();
      await wideEnv.cleanup();
    }
  });

  test('an unknown algorithm in server.algorithms stops dcm-server with one line naming the field', async () => {
    const badEnv = new TestEnv({
      tag: 'sshalgb',
      sshPorts: '30630-30639',
      extraYaml: 'server:\n  algorithms:\n    mac: [hmac-sha2-256-etm@openssh.com, hmac-sha3-999]\n',
    });
    try {
      const proc = spawn(process.execPath, [doorBin('dcm-server'), '--listen', `127.0.0.1:${BAD_PORT}`], {
        env: { ...process.env, ...badEnv.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      proc.stdout!.on('data', (d) => (out += d));
      proc.stderr!.on('data', (d) => (out += d));
      const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      const code = await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
      clearTimeout(timer);
      assert.equal(code, 7, out);
      assert.equal(
        out,
        `dcm-server: ${badEnv.configFile}: server.algorithms.mac.1: unknown MAC algorithm "hmac-sha3-999"; known: ${SUPPORTED_ALGORITHMS.mac.join(', ')}\n`,
      );
    } finally {
      await badEnv.cleanup();
    }
    // The same check for every kind, and an empty list.
    assert.throws(
      () => resolveConfig({ server: { algorithms: { kex: ['ecdh-sha2-nistp999'] } } }, '/tmp', 'c.yaml'),
      /DcmError: c\.yaml: server\.algorithms\.kex\.0: unknown key exchange algorithm "ecdh-sha2-nistp999"; known: /,
    );
    assert.throws(
      () => resolveConfig({ server: { algorithms: { compress: [] } } }, '/tmp', 'c.yaml'),
      /c\.yaml: server\.algorithms\.compress: .*at least one compression algorithm/,
    );
    assert.throws(
      () => resolveConfig({ server: { algorithms: { hostkey: ['ssh-rsa'] } } }, '/tmp', 'c.yaml'),
      /c\.yaml: server\.algorithms.*hostkey/,
    );
    assert.deepEqual(resolveConfig({}, '/tmp', null).server.algorithms, { ...MODERN_ALGORITHMS });
  });

  test('the known algorithm names are what the SSH library supports here; the modern defaults are among them', () => {
    const constants = createRequire(import.meta.url)('ssh2/lib/protocol/constants.js') as Record<string, string[]>;
    const lib = {
      kex: constants.SUPPORTED_KEX!,
      cipher: constants.SUPPORTED_CIPHER!,
      mac: constants.SUPPORTED_MAC!,
      compress: constants.SUPPORTED_COMPRESSION!,
    };
    for (const kind of ['kex', 'cipher', 'mac', 'compress'] as const) {
      assert.deepEqual(SUPPORTED_ALGORITHMS[kind], lib[kind], kind);
      for (const n of MODERN_ALGORITHMS[kind]) assert.ok(lib[kind].includes(n), `${n} is supported`);
    }
  });

  test("a container's sshd (started by dcm's init script): no failure and no warning from ssh-audit; OpenSSH and ssh2 log in", async () => {
    const c = await env.dcmJson<{ id: number; ip: string }>('alice', 'create');
    const a = await audit(c.id);
    assert.deepEqual(a.findings, [], a.output);
    assert.ok(a.compressionOff, `compression is offered:\n${a.output}`);
    assert.match(a.output, /^\(kex\) kex-strict-s-v00@openssh\.com/m, 'strict key exchange (Terrapin) is offered');
    const r = await sshInto(alice.keyFile, 'root', '127.0.0.1', c.id, 'whoami');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'root');
    const conn = await ssh2Connect(clientCfg(c.id, 'alice', alice.keyFile));
    try {
      const w = await ssh2Exec(conn, 'whoami');
      assert.equal(w.stdout.trim(), 'alice');
    } finally {
      conn.end();
    }
  });
});
