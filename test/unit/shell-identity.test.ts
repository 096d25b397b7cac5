/** dcm-shell's identity rules as a table: nothing the user controls picks the user. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { shellIdentity, type ShellIdentityInput } from '../../src/doors/shell-identity.js';
import { DcmError } from '../../src/errors.js';

const base: ShellIdentityInput = { euid: 0, ruid: 1000, account: 'alice', serviceAccount: () => 'dcm' };
const svc: ShellIdentityInput = {
  euid: 998,
  ruid: 998,
  account: 'dcm',
  sshConnection: '127.0.0.1 5000 127.0.0.1 22',
  serviceAccount: () => 'dcm',
};

const cases: [string, ShellIdentityInput, string | RegExp][] = [
  ['sudo: SUDO_USER is the user', { ...base, sudoUser: 'alice' }, 'alice'],
  ['sudo: --user refused', { ...base, sudoUser: 'alice', userFlag: 'bob' }, /--user is not allowed under sudo/],
  ['SUDO_USER without root refused', { ...base, euid: 1000, sudoUser: 'bob' }, /not running as root/],
  ['sudo by root is no user', { ...base, sudoUser: 'root' }, /root is not a dcm user/],
  ['sudo: bad name refused', { ...base, sudoUser: 'Bob;rm' }, /invalid user name/],
  ['service account forced command: --user', { ...svc, userFlag: 'bob' }, 'bob'],
  ['service account without sshd refused', { ...svc, sshConnection: undefined, userFlag: 'bob' }, /SSH_CONNECTION/],
  ['another account with --user refused', { ...svc, account: 'mallory', userFlag: 'bob' }, /service account "dcm"/],
  ['setuid-ish (ruid != euid) refused', { ...svc, ruid: 1000, userFlag: 'bob' }, /service account/],
  ['root without sudo is not the service account', { ...svc, euid: 0, ruid: 0, account: 'root', userFlag: 'bob' }, /service account "dcm"/],
  ['no identity at all refused', { ...svc }, /does not know who you are/],
  ['service account: bad --user refused', { ...svc, userFlag: '../x' }, /invalid user name/],
];

for (const [name, input, want] of cases) {
  test(name, () => {
    if (typeof want === 'string') return assert.equal(shellIdentity(input), want);
    assert.throws(
      () => shellIdentity(input),
      (e: unknown) => e instanceof DcmError && want.test(e.userMessage),
    );
  });
}
