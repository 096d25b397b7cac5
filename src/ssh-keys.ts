/**
 * Parsing users' public keys (authorized_keys format). A key is accepted only
 * when ssh2 can parse it as a public key of an allowed algorithm.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { DcmError } from './errors.js';
import { clip } from './names.js';

export interface PublicKey {
  algo: string;
  b64: string;
  comment: string;
  /** OpenSSH style: SHA256:<base64 without padding>. */
  fingerprint: string;
}

const ALGOS = new Set([
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
]);

export function fingerprintOf(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

/** Parses one key line "algo base64 [comment]"; options before the algo are refused. */
export function parsePublicKey(line: string): PublicKey {
  const parts = line.trim().split(/\s+/);
  const [algo, b64] = parts;
  if (!algo || !b64 || !ALGOS.has(algo)) {
    throw new DcmError('invalid', `not a public key line: "${clip(line)}" (expected e.g. "ssh-ed25519 AAAA… comment")`);
  }
  // ssh2 is loaded only when a key is parsed: most dcm runs never need it.
  const ssh2 = createRequire(import.meta.url)('ssh2') as typeof import('ssh2');
  const parsed = ssh2.utils.parseKey(`${algo} ${b64}`);
  if (parsed instanceof Error || Array.isArray(parsed) || parsed.isPrivateKey() || parsed.type !== algo) {
    throw new DcmError('invalid', `invalid ${algo} public key "${clip(b64, 20)}"`);
  }
  const comment = parts
    .slice(2)
    .join(' ')
    .replace(/[^\x20-\x7e]/g, '')
    .slice(0, 200);
  return { algo, b64, comment, fingerprint: fingerprintOf(Buffer.from(b64, 'base64')) };
}

export function keyLine(k: { algo: string; b64: string; comment: string }): string {
  return k.comment ? `${k.algo} ${k.b64} ${k.comment}` : `${k.algo} ${k.b64}`;
}
