/**
 * The server's host key: ed25519, made once in <state dir>/host_keys/ and
 * reused on every start, so clients never see a changed key.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { DcmError } from '../errors.js';
import { fingerprintOf } from '../ssh-keys.js';

/** A loaded host key and what to tell the admin about it. */
export interface HostKey {
  /** Private key in OpenSSH format, as ssh2's Server takes it. */
  pem: string;
  path: string;
  /** SHA256:… as `ssh-keygen -lf` prints it. */
  fingerprint: string;
  /** The public key line, for known_hosts. */
  publicLine: string;
  /** True when this start generated the key. */
  created: boolean;
}

const HOST_KEY_FILE = 'ssh_host_ed25519_key';

/**
 * ssh2's generator now and then (about 1 in 250) writes an ed25519 key whose
 * public half lost a leading zero byte, which nothing can parse afterwards;
 * such a key is thrown away and another made.
 */
function generateUsable(): { private: string; public: string } {
  for (let i = 0; i < 20; i++) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'dcm-server' });
    if (!(ssh2.utils.parseKey(pair.private) instanceof Error)) return pair;
  }
  throw new DcmError('internal', 'could not generate an ed25519 host key');
}

export function loadOrCreateHostKey(stateDir: string): HostKey {
  const dir = join(stateDir, 'host_keys');
  const path = join(dir, HOST_KEY_FILE);
  let created = false;
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const pair = generateUsable();
    // 'wx': if another process made the key meanwhile, keep theirs.
    try {
      writeFileSync(path, pair.private, { mode: 0o600, flag: 'wx' });
      writeFileSync(`${path}.pub`, pair.public + '\n', { mode: 0o644 });
      created = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  chmodSync(path, 0o600);
  const pem = readFileSync(path, 'utf8');
  const key = ssh2.utils.parseKey(pem);
  if (key instanceof Error || Array.isArray(key))
    throw new DcmError('config', `${path}: not a usable host key (${key instanceof Error ? key.message : 'several keys'})`);
  const blob = key.getPublicSSH();
  return { pem, path, fingerprint: fingerprintOf(blob), publicLine: `${key.type} ${blob.toString('base64')}`, created };
}
