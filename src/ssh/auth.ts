/**
 * Public-key authentication against user_keys. A key counts only for the
 * user name it is registered to, and only once its signature over the
 * session verifies. Every failure gets the same answer, so a client cannot
 * tell an unknown user from a wrong key.
 */
import ssh2 from 'ssh2';
import type { Store } from '../store/store.js';

/** What ssh2 hands over for a publickey attempt. */
export interface KeyAttempt {
  username: string;
  /** The public key blob, as sent. */
  blob: Buffer;
  /** Present on the real attempt; absent when the client only asks whether a key would do. */
  signature?: Buffer;
  signedData?: Buffer;
  hashAlgo?: string;
}

export type KeyVerdict = 'acceptable' | 'verified' | 'rejected';

// Same shape as checkUserName, without throwing: any other text cannot match a row.
const NAME_RE = /^[a-z][a-z0-9]*([-_][a-z0-9]+)*$/;

export function checkKey(store: Store, a: KeyAttempt): KeyVerdict {
  const name = a.username.length <= 32 && NAME_RE.test(a.username) ? a.username : '';
  // One lookup by (user, key): unknown user and unknown key cost the same.
  // A user blocked by dcm-userdel has no usable key.
  const row = store.users.keyFor(name, a.blob);
  if (!row) return 'rejected';
  if (!a.signature || !a.signedData) return 'acceptable';
  const pub = ssh2.utils.parseKey(`${row.algo} ${row.key_b64}`);
  if (pub instanceof Error || Array.isArray(pub)) return 'rejected';
  return pub.verify(a.signedData, a.signature, a.hashAlgo) === true ? 'verified' : 'rejected';
}
