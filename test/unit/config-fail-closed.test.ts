/**
 * The configuration file is read fail-closed: missing, a directory, a FIFO or
 * too big is one DcmError('config') line, never the built-in defaults (and a
 * FIFO never blocks). PolicySource keeps the last good configuration when the
 * file goes away. policy check collects every problem, from YAML, the schema
 * and pluggable checkers. The docker client ignores DOCKER_* variables. GPU
 * variables are dcm's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { DcmError } from '../../src/errors.js';
import { PolicySource } from '../../src/policy-io/policy-source.js';
import { findingLine, type PolicyChecker } from '../../src/policy/policy-check.js';
import { checkPolicyFile } from '../../src/policy-io/policy-check-file.js';
import { dockerAtSocket } from '../../src/engine/docker-client.js';
import { gpuEnv } from '../../src/manager/gpu-env.js';
import { tempDir } from '../helpers/tmp.js';

const configError = (file: string, message: string) => (e: unknown) => {
  assert.ok(e instanceof DcmError && e.code === 'config', String(e));
  assert.equal(e.userMessage, `${file}: ${message}`);
  return true;
};

test('a configuration file that is missing, a directory, a FIFO or too big is one config error', () => {
  const dir = tempDir('dcm-cfg-read-');
  const missing = join(dir, 'missing.yaml');
  assert.throws(
    () => loadConfig({ stateDir: dir, configFile: missing }),
    configError(missing, 'no configuration file (dcm does not run without one; a file holding {} means the built-in defaults)'),
  );
  const asDir = join(dir, 'dir.yaml');
  mkdirSync(asDir);
  assert.throws(
    () => loadConfig({ stateDir: dir, configFile: asDir }),
    configError(asDir, 'cannot read the configuration: it is a directory'),
  );
  const fifo = join(dir, 'fifo.yaml');
  execFileSync('mkfifo', [fifo]);
  const t0 = Date.now();
  assert.throws(
    () => loadConfig({ stateDir: dir, configFile: fifo }),
    configError(fifo, 'cannot read the configuration: not a regular file'),
  );
  assert.ok(Date.now() - t0 < 1000, 'a FIFO does not block');
  const big = join(dir, 'big.yaml');
  writeFileSync(big, '#'.repeat(5 * 1024 * 1024));
  assert.throws(() => loadConfig({ stateDir: dir, configFile: big }), configError(big, 'cannot read the configuration: larger than 4 MiB'));
  const empty = join(dir, 'empty.yaml');
  // An empty file, or one with only comments, is what a file being rewritten in place looks like: refused.
  for (const text of ['', '\n  \n', '# only a comment\n']) {
    writeFileSync(empty, text);
    assert.throws(
      () => loadConfig({ stateDir: dir, configFile: empty }),
      configError(empty, 'the configuration is empty (a file being rewritten?): write {} for the built-in defaults'),
    );
  }
  writeFileSync(empty, '{}\n');
  assert.equal(loadConfig({ stateDir: dir, configFile: empty }).configFile, empty, '{} is the explicit way to ask for the defaults');
  const several = join(dir, 'several.yaml');
  writeFileSync(several, 'defaults: { limits: { memory: lots } }\nnot_a_key: 1\n');
  assert.throws(
    () => loadConfig({ stateDir: dir, configFile: several }),
    configError(several, 'defaults.limits.memory: a size like 512m or 4g (and 1 more: dcm-admin policy check lists them all)'),
  );
});

test('PolicySource keeps the last good configuration when the file disappears', () => {
  const dir = tempDir('dcm-cfg-gone-');
  const file = join(dir, 'config.yaml');
  writeFileSync(file, 'groups:\n  students: { user: host }\n');
  const src = new PolicySource({ stateDir: dir, configFile: file });
  rmSync(file);
  const r = src.reload();
  assert.equal(r.ok, false);
  if (!r.ok)
    assert.equal(
      r.error,
      `${file}: no configuration file (dcm does not run without one; a file holding {} means the built-in defaults) (keeping the previous configuration)`,
    );
  assert.equal(src.current.groups.students?.user, 'host');
  src.close();
});

test('policy check collects YAML errors, schema errors and the findings of every checker', async () => {
  const dir = tempDir('dcm-cfg-check-');
  const yaml = join(dir, 'yaml.yaml');
  writeFileSync(yaml, 'a: 1\na: 2\nb: [1\n');
  const y = await checkPolicyFile(yaml, dir);
  assert.ok(y.findings.length >= 2, JSON.stringify(y.findings));
  assert.ok(y.findings.every((f) => f.level === 'error' && f.message.startsWith('not valid YAML: ')));

  const ok = join(dir, 'ok.yaml');
  writeFileSync(ok, 'mounts:\n  scratch: { source: /tmp, target: /scratch, mode: rw }\n');
  const checkers: PolicyChecker[] = [
    (c) =>
      Object.entries(c.mounts)
        .filter(([, m]) => m.mode === 'rw')
        .map(([n]) => ({ level: 'warning', field: `mounts.${n}`, message: 'read-write' })),
    async () => [{ level: 'error', field: null, message: 'whole-file problem' }],
  ];
  const r = await checkPolicyFile(ok, dir, checkers);
  assert.deepEqual(
    r.findings.map((f) => findingLine(ok, f)),
    [`${ok}: warning: mounts.scratch: read-write`, `${ok}: whole-file problem`],
  );
  assert.ok(r.config);
  // Checkers run only on a structurally valid file.
  writeFileSync(ok, 'mounts:\n  scratch: { source: relative, target: /scratch }\n');
  const s = await checkPolicyFile(ok, dir, checkers);
  assert.deepEqual(
    s.findings.map((f) => f.field),
    ['mounts.scratch.source'],
  );
  assert.equal(s.config, null);
});

test('the docker client is bound to the socket it was given, whatever DOCKER_* say', () => {
  const saved = { ...process.env };
  Object.assign(process.env, {
    DOCKER_HOST: 'tcp://127.0.0.1:1',
    DOCKER_TLS_VERIFY: '1',
    DOCKER_CERT_PATH: '/nonexistent',
    DOCKER_PATH_PREFIX: '/x',
    DOCKER_CLIENT_TIMEOUT: '1',
  });
  try {
    const m = dockerAtSocket('/run/some.sock').modem as unknown as {
      socketPath: string;
      host?: string;
      protocol: string;
      timeout?: number;
      ca?: unknown;
    };
    assert.equal(m.socketPath, '/run/some.sock');
    assert.equal(m.host, undefined);
    assert.equal(m.protocol, 'http');
    assert.equal(m.timeout, undefined);
    assert.equal(m.ca, undefined);
    assert.equal(process.env.DOCKER_HOST, 'tcp://127.0.0.1:1', 'the environment is given back');
  } finally {
    for (const k of ['DOCKER_HOST', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH', 'DOCKER_PATH_PREFIX', 'DOCKER_CLIENT_TIMEOUT']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
});

test('GPU variables: void without GPUs, exactly the reserved ids otherwise', () => {
  assert.deepEqual(gpuEnv([]), { NVIDIA_VISIBLE_DEVICES: 'void' });
  assert.deepEqual(gpuEnv(['1']), { NVIDIA_VISIBLE_DEVICES: '1' });
  assert.deepEqual(gpuEnv(['0', 'GPU-3f2a']), { NVIDIA_VISIBLE_DEVICES: '0,GPU-3f2a' });
});
