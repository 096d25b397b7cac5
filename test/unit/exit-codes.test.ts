/**
 * Exit codes come from one table (EXIT), looked up directly where only the
 * code is needed; no error object is built just to read its exit code back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DcmError, EXIT, exitCodeFor, type ErrorCode } from '../../src/errors.js';
import * as errors from '../../src/errors.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const walk = (d: string): string[] =>
  readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : f.endsWith('.ts') ? [join(d, f)] : []));

test("EXIT is the README's table, and exitCodeFor reads it", () => {
  assert.deepEqual(
    { ...EXIT },
    { usage: 2, invalid: 2, 'not-found': 3, conflict: 1, denied: 4, limit: 5, unavailable: 6, config: 7, internal: 1 },
  );
  for (const code of Object.keys(EXIT) as ErrorCode[]) assert.equal(exitCodeFor(new DcmError(code, 'x')), EXIT[code], code);
  assert.equal(exitCodeFor(new Error('unexpected')), 1);
});

test('errors.ts exports what is used, and no code builds an error only for its exit code', () => {
  assert.deepEqual(Object.keys(errors).sort(), ['DcmError', 'EXIT', 'exitCodeFor', 'userLine']);
  const built = [...walk(join(ROOT, 'src')), ...walk(join(ROOT, 'admin'))]
    .flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .map((l, i) => ({ at: `${f.slice(ROOT.length + 1)}:${i + 1}`, l })),
    )
    .filter(({ l }) => /exitCodeFor\(new DcmError|new DcmError\('[a-z-]+', ''\)/.test(l))
    .map(({ at }) => at);
  assert.deepEqual(built, []);
});
