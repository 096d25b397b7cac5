/**
 * Reads back what dcm-server's command socket answered, for tests that speak
 * its protocol directly: the frames of protocol 2 (command-protocol.ts) put
 * together, or a version-1 answer as it came.
 */
import assert from 'node:assert/strict';

export interface CommandAnswer {
  code: number;
  stdout: string;
  stderr: string;
}

export function answerOf(raw: string): CommandAnswer {
  const lines = raw.split('\n').filter(Boolean);
  assert.ok(lines.length > 0, 'no answer');
  const first = JSON.parse(lines[0]!) as Record<string, unknown>;
  if ('stdout' in first) return first as unknown as CommandAnswer;
  const a: CommandAnswer = { code: -1, stdout: '', stderr: '' };
  for (const l of lines) {
    const f = JSON.parse(l) as { out?: string; err?: string; progress?: string; code?: number };
    if (f.out !== undefined) a.stdout += f.out;
    if (f.err !== undefined) a.stderr += f.err + '\n';
    if (f.progress !== undefined) a.stderr += f.progress + '\n';
    if (f.code !== undefined) a.code = f.code;
  }
  assert.equal((JSON.parse(lines[lines.length - 1]!) as { code?: number }).code, a.code, 'the exit code is the last frame');
  return a;
}
