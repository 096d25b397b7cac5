/**
 * Storage is root-only on the host and keys are never written through links a
 * user planted in their own storage (they are root inside their containers).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureUserDirs, userDirs } from '../../src/storage/user-dirs.js';
import { DcmError } from '../../src/errors.js';

const KEY1 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl one';
const KEY2 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH0cHwuzSa5Nvzn8vyH0iqAhdAB4Ak3z6RgbzT0pRpIS two';

function fresh() {
  const top = mkdtempSync(join(tmpdir(), 'dcm-nofollow-'));
  const storage = join(top, 'storage');
  const victim = join(top, 'victim');
  mkdirSync(victim, { mode: 0o755 });
  writeFileSync(join(victim, 'secret'), 'host file\n');
  const d = ensureUserDirs(storage, 'alice', 1234, 1234, [KEY1]);
  return { top, storage, victim, d, done: () => rmSync(top, { recursive: true, force: true }) };
}

const isRefusal = (e: unknown) => e instanceof DcmError && e.code === 'conflict' && /refusing to follow/.test(e.userMessage);

test('storage and user directories are root-only; root/ and home/ have the modes sshd needs', () => {
  const t = fresh();
  try {
    const st = (p: string) => statSync(p);
    assert.equal(st(t.storage).mode & 0o777, 0o700);
    assert.equal(st(t.d.base).mode & 0o777, 0o700);
    assert.equal(st(t.d.root).mode & 0o777, 0o700);
    assert.equal(st(t.d.root).uid, 0);
    assert.equal(st(t.d.home).mode & 0o777, 0o755);
    assert.equal(st(t.d.home).uid, 1234);
    const ak = join(t.d.home, '.ssh', 'authorized_keys');
    assert.equal(st(ak).uid, 1234);
    assert.equal(st(ak).mode & 0o777, 0o600);
    assert.equal(readFileSync(ak, 'utf8'), KEY1 + '\n');
  } finally {
    t.done();
  }
});

test('keys are merged: lines the user added stay, a second key is appended once', () => {
  const t = fresh();
  try {
    const ak = join(t.d.root, '.ssh', 'authorized_keys');
    writeFileSync(ak, readFileSync(ak, 'utf8') + 'ssh-rsa AAAA own-line\n');
    ensureUserDirs(t.storage, 'alice', 1234, 1234, [KEY1, KEY2]);
    ensureUserDirs(t.storage, 'alice', 1234, 1234, [KEY2]);
    assert.deepEqual(readFileSync(ak, 'utf8').trim().split('\n'), [KEY1, 'ssh-rsa AAAA own-line', KEY2]);
  } finally {
    t.done();
  }
});

test('.ssh made a symlink to a host directory: refused, nothing written or chowned there', () => {
  const t = fresh();
  try {
    for (const dir of [t.d.root, t.d.home]) {
      rmSync(join(dir, '.ssh'), { recursive: true });
      symlinkSync(t.victim, join(dir, '.ssh'));
      assert.throws(() => ensureUserDirs(t.storage, 'alice', 1234, 1234, [KEY2]), isRefusal);
      assert.equal(existsSync(join(t.victim, 'authorized_keys')), false);
      assert.equal(statSync(t.victim).uid, 0);
      assert.equal(statSync(t.victim).mode & 0o777, 0o755);
      rmSync(join(dir, '.ssh'));
      mkdirSync(join(dir, '.ssh'));
    }
  } finally {
    t.done();
  }
});

test('authorized_keys made a symlink to a host file: refused, the host file is unchanged', () => {
  const t = fresh();
  try {
    const ak = join(t.d.home, '.ssh', 'authorized_keys');
    rmSync(ak);
    symlinkSync(join(t.victim, 'secret'), ak);
    assert.throws(() => ensureUserDirs(t.storage, 'alice', 1234, 1234, [KEY2]), isRefusal);
    assert.equal(readFileSync(join(t.victim, 'secret'), 'utf8'), 'host file\n');
    assert.equal(statSync(join(t.victim, 'secret')).uid, 0);
  } finally {
    t.done();
  }
});

test('authorized_keys hard-linked to another file: replaced by a new file, the other file is unchanged', () => {
  const t = fresh();
  try {
    const ak = join(t.d.root, '.ssh', 'authorized_keys');
    rmSync(ak);
    linkSync(join(t.victim, 'secret'), ak);
    ensureUserDirs(t.storage, 'alice', 1234, 1234, [KEY2]);
    assert.equal(readFileSync(join(t.victim, 'secret'), 'utf8'), 'host file\n');
    assert.match(readFileSync(ak, 'utf8'), /two/);
    assert.equal(lstatSync(ak).nlink, 1);
  } finally {
    t.done();
  }
});

test('a FIFO in place of authorized_keys is refused at once (no hang), and no temp file is left', () => {
  const t = fresh();
  try {
    const sshDir = join(t.d.home, '.ssh');
    rmSync(join(sshDir, 'authorized_keys'));
    execFileSync('mkfifo', [join(sshDir, 'authorized_keys')]);
    assert.throws(() => ensureUserDirs(t.storage, 'alice', 1234, 1234, [KEY2]), isRefusal);
    assert.deepEqual(execFileSync('ls', ['-A', sshDir], { encoding: 'utf8' }).trim().split('\n'), ['authorized_keys']);
  } finally {
    t.done();
  }
});

test('the user directory names stay where userDirs says', () => {
  const d = userDirs('/srv/s', 'bob');
  assert.deepEqual(d, { base: '/srv/s/bob', root: '/srv/s/bob/root', home: '/srv/s/bob/home' });
});
