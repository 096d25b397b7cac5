/**
 * Options end at "--", and exit codes are the ones the README promises:
 * 2 usage or invalid value, 3 not found, 4 refused, 5 limit, 6 engine down,
 * 7 invalid configuration, 1 anything else.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestEnv } from '../helpers/env.js';
import { DcmError, exitCodeFor, type ErrorCode } from '../../src/errors.js';

describe('arguments after "--" and exit codes', () => {
  const env = new TestEnv({ tag: 'exitc', sshPorts: '30660-30669' });

  before(async () => {
    await env.addUser('alice');
  });
  after(async () => {
    await env.cleanup();
  });

  test('"show -- --json" looks for a container named --json and answers in text, not JSON', async () => {
    const r = await env.dcm('alice', 'show', '--', '--json');
    assert.equal(r.code, 3);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'dcm: no such container: --json\n');
    // Before "--" it is still an option.
    const j = await env.dcm('alice', 'show', '--json', '--', 'web');
    assert.equal(j.code, 3);
    assert.equal(j.stdout, '{"error":"no such container: web"}\n');
    assert.equal(j.stderr, 'dcm: no such container: web\n');
  });

  test('invalid input exits 2 with one line, like a usage error', async () => {
    const name = await env.dcm('alice', 'create', '--name', '12345');
    assert.equal(name.code, 2);
    assert.equal(name.stderr, 'dcm: invalid container name "12345": use letters, digits and inner hyphens (at most 63), not only digits\n');
    const port = await env.dcm('alice', 'create', '--port', '70000');
    assert.equal(port.code, 2);
    assert.equal(port.stderr, 'dcm: invalid port "70000": a number from 1 to 65535\n');
    const opt = await env.dcm('alice', 'create', '--privileged');
    assert.equal(opt.code, 2);
    assert.equal(opt.stderr, 'dcm: create: unknown option --privileged (try "help create")\n');
    assert.deepEqual(await env.dcmJson('alice', 'show'), [], 'nothing was created');
  });

  test('every error class has the exit code the README lists', () => {
    const want: Record<ErrorCode, number> = {
      usage: 2,
      invalid: 2,
      'not-found': 3,
      denied: 4,
      limit: 5,
      unavailable: 6,
      config: 7,
      conflict: 1,
      internal: 1,
    };
    for (const [code, exit] of Object.entries(want)) assert.equal(exitCodeFor(new DcmError(code as ErrorCode, 'x')), exit, code);
    assert.equal(exitCodeFor(new Error('unexpected')), 1);
  });
});
