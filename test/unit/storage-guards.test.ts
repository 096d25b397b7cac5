/**
 * The storage guards without an engine: key changes are all-or-nothing and
 * follow dcm's line rules, bind sources are checked without following links,
 * and a user's tree is removed without ever leaving it, even while another
 * process keeps swapping its directories for links to a host directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { spawn, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ensureUserDirs } from '../../src/storage/user-dirs.js';
import { applyKeyChange } from '../../src/storage/authorized-keys.js';
import { plainOwners, verifyStorageBinds } from '../../src/storage/verify-binds.js';
import { removeTree } from '../../src/storage/remove-tree.js';
import { DcmError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';

const KEY1 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl one';
const KEY2 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH0cHwuzSa5Nvzn8vyH0iqAhdAB4Ak3z6RgbzT0pRpIS two';
const BLOB2 = KEY2.split(' ')[1]!;
const UID = 1234;

function fresh() {
  const top = tempDir('dcm-guards-');
  const storage = join(top, 'storage');
  const victim = join(top, 'victim');
  mkdirSync(victim, { mode: 0o755 });
  writeFileSync(join(victim, 'canary'), 'host file\n');
  const d = ensureUserDirs(storage, 'alice', UID, UID, [KEY1]);
  return { top, storage, victim, d };
}

const keysIn = (dir: string) => readFileSync(join(dir, '.ssh', 'authorized_keys'), 'utf8');

test('a key refused for home/.ssh (a link) is not written to root/.ssh either', () => {
  const t = fresh();
  rmSync(join(t.d.home, '.ssh'), { recursive: true });
  symlinkSync(t.victim, join(t.d.home, '.ssh'));
  assert.throws(
    () => ensureUserDirs(t.storage, 'alice', UID, UID, [KEY2]),
    (e) => e instanceof DcmError && /home\/\.ssh is a symbolic link or not a directory; refusing to follow it/.test(e.userMessage),
  );
  assert.equal(keysIn(t.d.root), KEY1 + '\n', 'root/.ssh/authorized_keys unchanged');
  assert.deepEqual(readdirSync(t.victim), ['canary']);
});

test('key lines: add merges, remove drops every line carrying the key, replace leaves exactly the given keys', () => {
  const own = 'ssh-rsa AAAAB3own users-own-line';
  const withOpts = `from="10.0.0.1",no-pty ${KEY2}`;
  const before = [KEY1, own, withOpts].join('\n') + '\n';
  assert.equal(applyKeyChange(before, { add: [KEY2] }), [KEY1, own, withOpts, KEY2].join('\n') + '\n');
  assert.equal(applyKeyChange(before, { add: [], remove: [BLOB2] }), [KEY1, own].join('\n') + '\n');
  assert.equal(applyKeyChange(before, { add: [KEY2], replace: true }), KEY2 + '\n');
  assert.equal(applyKeyChange(null, { add: [], remove: [BLOB2] }), '');
});

test('revoke and replace reach both files; a refused replace changes neither', () => {
  const t = fresh();
  ensureUserDirs(t.storage, 'alice', UID, UID, [KEY2]);
  writeFileSync(join(t.d.home, '.ssh', 'authorized_keys'), keysIn(t.d.home) + `command="x" ${KEY2}\n`);
  ensureUserDirs(t.storage, 'alice', UID, UID, { add: [], remove: [BLOB2] });
  for (const dir of [t.d.root, t.d.home]) assert.equal(keysIn(dir), KEY1 + '\n');
  rmSync(join(t.d.home, '.ssh', 'authorized_keys'));
  mkdirSync(join(t.d.home, '.ssh', 'authorized_keys'));
  assert.throws(() => ensureUserDirs(t.storage, 'alice', UID, UID, { add: [KEY2], replace: true }), DcmError);
  assert.equal(keysIn(t.d.root), KEY1 + '\n');
});

const bindRefusal = (inside: string, what: string) => (e: unknown) =>
  e instanceof DcmError &&
  e.code === 'denied' &&
  e.userMessage === `your storage cannot be mounted safely: ${inside} ${what} on the host; ask the administrator` &&
  typeof e.adminDetail === 'string' &&
  e.adminDetail.includes('refusing to bind it for alice');

test('bind sources: real directories of the expected owners pass; a link at any level is refused', () => {
  const t = fresh();
  const owners = plainOwners({ uid: UID, gid: UID });
  verifyStorageBinds(t.storage, 'alice', owners);
  const swap = (path: string, inside: string) => {
    const aside = `${path}.aside`;
    execFileSync('mv', [path, aside]);
    symlinkSync(t.victim, path);
    try {
      assert.throws(() => verifyStorageBinds(t.storage, 'alice', owners), bindRefusal(inside, 'is a symbolic link'));
    } finally {
      rmSync(path);
      execFileSync('mv', [aside, path]);
    }
  };
  swap(t.d.home, '/home/alice');
  swap(t.d.root, '/root');
  swap(t.d.base, 'your storage directory');
  swap(t.storage, 'the storage directory');
  // user: host containers do not mount root/, so its state does not matter then.
  rmSync(t.d.root, { recursive: true });
  symlinkSync(t.victim, t.d.root);
  verifyStorageBinds(t.storage, 'alice', owners, false);
  assert.equal(statSync(t.victim).uid, 0);
});

test('bind sources: a wrong owner or a group/world-writable directory is refused', () => {
  const t = fresh();
  const owners = plainOwners({ uid: UID, gid: UID });
  chownSync(t.d.home, 0, 0);
  assert.throws(() => verifyStorageBinds(t.storage, 'alice', owners), bindRefusal('/home/alice', `is owned by uid 0, not ${UID}`));
  chownSync(t.d.home, UID, UID);
  chmodSync(t.d.root, 0o777);
  assert.throws(() => verifyStorageBinds(t.storage, 'alice', owners), bindRefusal('/root', 'is writable by group or others (mode 777)'));
  chmodSync(t.d.root, 0o700);
  // Shifted owners (an engine with user namespaces) are a parameter.
  assert.throws(
    () => verifyStorageBinds(t.storage, 'alice', { rootUid: 100000, homeUid: 100000 + UID, homeGid: 100000 + UID }),
    bindRefusal('/root', 'is owned by uid 0, not 100000'),
  );
});

test('removeTree: links inside are removed, never followed; a missing tree is reported', () => {
  const t = fresh();
  symlinkSync(t.victim, join(t.d.home, 'to-host'));
  symlinkSync(join(t.victim, 'canary'), join(t.d.root, 'to-canary'));
  assert.deepEqual(removeTree(t.d.base), { removed: true, mountPoints: [] });
  assert.equal(existsSync(t.d.base), false);
  assert.equal(readFileSync(join(t.victim, 'canary'), 'utf8'), 'host file\n');
  assert.deepEqual(removeTree(t.d.base), { removed: false, mountPoints: [] });
});

test('removeTree: very deep trees need no more than a bounded number of descriptors', () => {
  const t = fresh();
  let p = t.d.home;
  for (let i = 0; i < 300; i++) {
    p = join(p, 'd');
    mkdirSync(p);
  }
  writeFileSync(join(p, 'bottom'), 'x');
  assert.deepEqual(removeTree(t.d.base), { removed: true, mountPoints: [] });
  assert.equal(existsSync(t.d.base), false);
});

test('removeTree: a process swapping directories for links to a host directory during the walk deletes nothing there', async () => {
  const t = fresh();
  const files = 300;
  mkdirSync(join(t.victim, 'sub'));
  for (let i = 0; i < files; i++) writeFileSync(join(t.victim, 'sub', `f${i}`), 'canary\n');
  for (let k = 0; k < 6; k++) {
    mkdirSync(join(t.d.home, `d${k}`, 'sub'), { recursive: true });
    for (let i = 0; i < files; i++) writeFileSync(join(t.d.home, `d${k}`, 'sub', `f${i}`), '');
  }
  // Each directory spends half its time as a link to the host directory, whose
  // layout matches, so a path-based walk would delete the host's files.
  const swapper = spawn(
    'perl',
    [
      '-e',
      `
    my ($c, $h) = @ARGV; my $end = time + 6; my @d = map { "$h/d$_" } 0..5;
    while (time < $end) { for my $d (@d) { if (rename($d, "$d.x")) { symlink($c, $d); select(undef, undef, undef, 0.004); unlink($d); rename("$d.x", $d); } } }`,
      t.victim,
      t.d.home,
    ],
    { stdio: 'ignore' },
  );
  const done = new Promise((r) => swapper.once('exit', r));
  try {
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(removeTree(t.d.base), { removed: true, mountPoints: [] });
  } finally {
    swapper.kill();
    await done;
  }
  assert.equal(readdirSync(join(t.victim, 'sub')).length, files, 'every host file is still there');
  assert.equal(existsSync(t.d.base), false);
});
