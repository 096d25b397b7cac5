/**
 * src/policy/ is pure: no file system, no processes, no signals. The effects
 * (reload on file change or SIGHUP, mount probes, reading a file to check)
 * live in src/policy-io/. This reads the sources themselves, so a new import
 * of node:fs in policy/ fails here, not in a review.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkPolicyText, findingLine } from '../../src/policy/policy-check.js';
import { tempDir } from '../helpers/tmp.js';

// dist/test/unit/ → the checkout, where src/ is.
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const EFFECTS = /node:fs|node:child_process|process\.(on|kill)\b/;

const sources = (dir: string) =>
  readdirSync(join(ROOT, dir))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => ({ file: `${dir}/${f}`, text: readFileSync(join(ROOT, dir, f), 'utf8') }));

test('no file in src/policy/ touches files, processes or signals', () => {
  const files = sources('src/policy');
  assert.ok(
    files.some((f) => f.file === 'src/policy/decide.ts'),
    'the policy sources were found',
  );
  const offenders = files.filter((f) => EFFECTS.test(f.text)).map((f) => `${f.file}: ${EFFECTS.exec(f.text)![0]}`);
  assert.deepEqual(offenders, []);
});

test('the effects live in src/policy-io/, each file saying why in its first line', () => {
  const files = sources('src/policy-io');
  assert.deepEqual(files.map((f) => f.file).sort(), [
    'src/policy-io/policy-check-file.ts',
    'src/policy-io/policy-source.ts',
    'src/policy-io/probe-mounts.ts',
  ]);
  for (const f of files)
    assert.match(f.text.split('\n')[0]!, /^\/\/ Lives in policy-io, not policy: .+, and policy\/ stays pure\.$/, f.file);
});

test('policy check runs on text: no file is read', async () => {
  const dir = tempDir('dcm-policy-text-');
  const file = join(dir, 'never-written.yaml');
  const r = await checkPolicyText('mounts:\n  scratch: { source: relative, target: /scratch }\n', file, dir);
  assert.deepEqual(
    r.findings.map((f) => findingLine(file, f)),
    [`${file}: mounts.scratch.source: an absolute path without ":" or ","`],
  );
  const ok = await checkPolicyText('defaults:\n  limits: { memory: 2g }\n', file, dir);
  assert.deepEqual(ok.findings, []);
  assert.equal(ok.config?.defaults.limits?.memory, 2 * 1024 ** 3);
  assert.equal(ok.config?.configFile, file);
});
