/**
 * Which SSH algorithms dcm-server offers. By default only modern ones: an
 * audit (ssh-audit) of the listener finds no NIST-curve key exchange, no SHA-1
 * or encrypt-and-MAC MAC and no compression. Sites with old clients can widen
 * each list in `server.algorithms`; every name there is checked against what
 * the SSH library can actually do, so a typo stops start-up with one line
 * instead of failing every handshake.
 *
 * Strict key exchange (the "kex-strict-s-v00@openssh.com" marker against the
 * Terrapin prefix-truncation attack) is added by ssh2 itself to every server
 * offer, whatever the lists below say.
 */
import type { Algorithms, CipherAlgorithm, CompressionAlgorithm, KexAlgorithm, MacAlgorithm } from 'ssh2';
import { createRequire } from 'node:module';
import { z } from 'zod';

/** The four lists an admin may set; the host key is always the server's ed25519 key. */
export interface AlgorithmLists {
  kex: string[];
  cipher: string[];
  mac: string[];
  compress: string[];
}

/** Offered when the config says nothing. */
export const MODERN_ALGORITHMS: Readonly<AlgorithmLists> = Object.freeze({
  kex: ['curve25519-sha256', 'curve25519-sha256@libssh.org'],
  cipher: ['chacha20-poly1305@openssh.com', 'aes256-gcm@openssh.com', 'aes128-gcm@openssh.com'],
  mac: ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com'],
  compress: ['none'],
});

/** What ssh2 1.17 documents as supported; used only if its own lists cannot be read. */
const DOCUMENTED: AlgorithmLists = {
  kex: [
    'curve25519-sha256',
    'curve25519-sha256@libssh.org',
    'ecdh-sha2-nistp256',
    'ecdh-sha2-nistp384',
    'ecdh-sha2-nistp521',
    'diffie-hellman-group-exchange-sha256',
    'diffie-hellman-group14-sha256',
    'diffie-hellman-group15-sha512',
    'diffie-hellman-group16-sha512',
    'diffie-hellman-group17-sha512',
    'diffie-hellman-group18-sha512',
    'diffie-hellman-group-exchange-sha1',
    'diffie-hellman-group14-sha1',
    'diffie-hellman-group1-sha1',
  ],
  cipher: [
    'chacha20-poly1305@openssh.com',
    'aes128-gcm@openssh.com',
    'aes256-gcm@openssh.com',
    'aes128-ctr',
    'aes192-ctr',
    'aes256-ctr',
    'aes256-cbc',
    'aes192-cbc',
    'aes128-cbc',
    '3des-cbc',
  ],
  mac: [
    'hmac-sha2-256-etm@openssh.com',
    'hmac-sha2-512-etm@openssh.com',
    'hmac-sha1-etm@openssh.com',
    'hmac-sha2-256',
    'hmac-sha2-512',
    'hmac-sha1',
    'hmac-md5',
    'hmac-sha2-256-96',
    'hmac-sha2-512-96',
    'hmac-ripemd160',
    'hmac-sha1-96',
    'hmac-md5-96',
  ],
  compress: ['none', 'zlib@openssh.com', 'zlib'],
};

/**
 * Every name the SSH library accepts here, modern and legacy, so an admin can
 * turn an old one back on knowingly. Read from the library itself: which
 * ciphers it offers depends on the OpenSSL that Node was built with, and a
 * name it does not know would otherwise fail at start with a less clear error.
 */
export const SUPPORTED_ALGORITHMS: Readonly<AlgorithmLists> = Object.freeze(librarySupported());

function librarySupported(): AlgorithmLists {
  try {
    const c = createRequire(import.meta.url)('ssh2/lib/protocol/constants.js') as Record<string, unknown>;
    const list = (v: unknown, fallback: string[]) =>
      Array.isArray(v) && v.every((n) => typeof n === 'string') ? (v as string[]) : fallback;
    return {
      kex: list(c.SUPPORTED_KEX, DOCUMENTED.kex),
      cipher: list(c.SUPPORTED_CIPHER, DOCUMENTED.cipher),
      mac: list(c.SUPPORTED_MAC, DOCUMENTED.mac),
      compress: list(c.SUPPORTED_COMPRESSION, DOCUMENTED.compress),
    };
  } catch {
    return DOCUMENTED;
  }
}

const WHAT: Record<keyof AlgorithmLists, string> = {
  kex: 'key exchange',
  cipher: 'cipher',
  mac: 'MAC',
  compress: 'compression',
};

/** One list in the config: non-empty, no repeats, every name known. */
function listSchema(kind: keyof AlgorithmLists) {
  const known = SUPPORTED_ALGORITHMS[kind];
  return z
    .array(z.string())
    .min(1, `at least one ${WHAT[kind]} algorithm`)
    .superRefine((names, ctx) => {
      names.forEach((n, i) => {
        if (!known.includes(n)) {
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            path: [i],
            message: `unknown ${WHAT[kind]} algorithm "${n.replace(/[^\x20-\x7e]/g, '?').slice(0, 60)}"; known: ${known.join(', ')}`,
          });
        } else if (names.indexOf(n) !== i) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, path: [i], message: `${WHAT[kind]} algorithm "${n}" is listed twice` });
        }
      });
    })
    .default([...MODERN_ALGORITHMS[kind]]);
}

/** `server.algorithms` in the config: each list replaces the modern default, in order of preference. */
export const algorithmsSchema = z
  .object({
    kex: listSchema('kex'),
    cipher: listSchema('cipher'),
    mac: listSchema('mac'),
    compress: listSchema('compress'),
  })
  .strict()
  .default({});

/** The lists as ssh2.Server's `algorithms` option takes them. */
export function ssh2Algorithms(a: AlgorithmLists): Algorithms {
  // The names were checked against SUPPORTED_ALGORITHMS when the config was read.
  return {
    kex: a.kex as KexAlgorithm[],
    cipher: a.cipher as CipherAlgorithm[],
    hmac: a.mac as MacAlgorithm[],
    compress: a.compress as CompressionAlgorithm[],
  };
}
