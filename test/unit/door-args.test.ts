/**
 * The programs as shipped (dist/bin) read their options with the one parser:
 * an unknown option or a missing value is one exact line and exit 2, before
 * anything is opened; --help is generated from the same spec and exits 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ROOT, run } from '../helpers/env.js';
import { tempDir } from '../helpers/tmp.js';

const bin = (name: string) => join(ROOT, 'dist/bin', `${name}.mjs`);
// A state dir and a config that do not exist: a refusal must come before either is read.
const dir = tempDir('dcm-door-args-');
const ENV = { DCM_STATE_DIR: join(dir, 'state'), DCM_CONFIG: join(dir, 'none.yaml'), SUDO_USER: '' };
const door = (name: string, ...args: string[]) => run(process.execPath, [bin(name), ...args], ENV, 30_000);
const refused = (stderr: string) => ({ code: 2, stdout: '', stderr });

test('dcm-server: unknown options, missing values and stray words are refused with one line, exit 2', async () => {
  assert.deepEqual(await door('dcm-server', '--bogus'), refused('dcm-server: unknown option --bogus (try "dcm-server --help")\n'));
  // --listen without its value no longer falls back to the configured address.
  assert.deepEqual(await door('dcm-server', '--listen'), refused('dcm-server: --listen needs a value (ADDR:PORT)\n'));
  assert.deepEqual(await door('dcm-server', '--listen='), refused('dcm-server: --listen needs a value (ADDR:PORT)\n'));
  assert.deepEqual(await door('dcm-server', '--state-dir'), refused('dcm-server: --state-dir needs a value (DIR)\n'));
  assert.deepEqual(
    await door('dcm-server', '--', '--help'),
    refused('dcm-server: unexpected argument "--help" (usage: dcm-server [--listen ADDR:PORT] [--state-dir DIR] [--config FILE])\n'),
  );
  // A good option line goes on to read the configuration, which is missing here.
  const r = await door('dcm-server', '--listen', '127.0.0.1:1');
  assert.equal(r.code, 7, r.stderr);
});

test('dcm-server --help and dcm-shell --help are generated from their specs', async () => {
  const s = await door('dcm-server', '--help');
  assert.equal(s.code, 0, s.stderr);
  assert.match(s.stdout, /^usage: dcm-server \[--listen ADDR:PORT\] \[--state-dir DIR\] \[--config FILE\]\n\n/);
  assert.match(s.stdout, /\n {6}--listen ADDR:PORT {5}where to listen \(default server\.listen, 127\.0\.0\.1:2222\)\n/);
  const sh = await door('dcm-shell', '-h');
  assert.equal(sh.code, 0, sh.stderr);
  assert.match(sh.stdout, /^usage: dcm-shell \[--user NAME\] \[--state-dir DIR\] \[--config FILE\]\n/);
  assert.match(sh.stdout, /--state-dir DIR {8}dcm state directory \(default \/var\/lib\/dcm; DCM_STATE_DIR is not read\)\n/);
});

test("dcm-shell takes no words of its own: the user's come in SSH_ORIGINAL_COMMAND", async () => {
  assert.deepEqual(
    await door('dcm-shell', 'show'),
    refused('dcm-shell: unexpected argument "show" (usage: dcm-shell [--user NAME] [--state-dir DIR] [--config FILE])\n'),
  );
  assert.deepEqual(await door('dcm-shell', '--json'), refused('dcm-shell: unknown option --json (try "dcm-shell --help")\n'));
  assert.deepEqual(await door('dcm-shell', '--user'), refused('dcm-shell: --user needs a value (NAME)\n'));
});

test("dcm: its options stand anywhere and need a value; the rest is the command's", async () => {
  assert.deepEqual(await door('dcm', 'show', '--state-dir'), refused('dcm: --state-dir needs a value (DIR)\n'));
  assert.deepEqual(await door('dcm', '--config=', 'show'), refused('dcm: --config needs a value (FILE)\n'));
  const h = await door('dcm', '--help');
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, /^usage: sudo dcm COMMAND \[ARGS\] \[--json\] {5}as yourself, through sudo\n {7}dcm --user NAME COMMAND/);
  assert.match(h.stdout, /\noptions:\n {6}--user NAME {12}act for this dcm user/);
  assert.match(h.stdout, /\ncommands:\n {2}create /);
});

test('dcm-admin: an unknown option or command exits 2; a subcommand refuses in its own name', async () => {
  assert.deepEqual(await door('dcm-admin', '--bogus'), refused('dcm-admin: unknown option --bogus (try "dcm-admin --help")\n'));
  assert.deepEqual(await door('dcm-admin', '--state-dir'), refused('dcm-admin: --state-dir needs a value (DIR)\n'));
  assert.deepEqual(
    await door('dcm-admin', 'frob', 'x'),
    refused('dcm-admin: unknown command: frob x\nrun "dcm-admin --help" for the list\n'),
  );
  assert.deepEqual(
    await door('dcm-admin', 'users', 'ls', '--bogus'),
    refused('dcm-admin users ls: unknown option --bogus (try "dcm-admin users ls --help")\n'),
  );
  assert.deepEqual(
    await door('dcm-admin', 'users', 'key'),
    refused(
      'dcm-admin users key: missing NAME (usage: dcm-admin users key NAME [-k|--key FILE|KEYTEXT]... [--rm FINGERPRINT]... [--set FILE|KEYTEXT] [--sync])\n',
    ),
  );
  // A leading --json is the subcommand's: the words after it still name the command.
  assert.deepEqual(
    await door('dcm-admin', '--json', 'users', 'ls', '--bogus'),
    refused('dcm-admin users ls: unknown option --bogus (try "dcm-admin users ls --help")\n'),
  );
  const h = await door('dcm-admin', '--help');
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, /^usage: dcm-admin COMMAND \[--state-dir DIR\] \[--config FILE\] \[options\]\n/);
  assert.match(h.stdout, /\ncommands:\n {2}images add {5}Register an image/);
  const t = await door('dcm-admin', 'users', 'ls', '--help');
  assert.equal(t.code, 0, t.stderr);
  assert.equal(t.stdout.split('\n')[0], 'usage: dcm-admin users ls');
});

test('dcm-useradd and dcm-userdel: one line naming the tool once, exit 2', async () => {
  assert.deepEqual(await door('dcm-useradd', '--bogus', 'a'), refused('dcm-useradd: unknown option --bogus (try "dcm-useradd --help")\n'));
  assert.deepEqual(
    await door('dcm-useradd'),
    refused('dcm-useradd: missing NAME (usage: dcm-useradd NAME [-k|--key FILE|KEYTEXT]... [-g|--group GROUP]... [--system])\n'),
  );
  assert.deepEqual(
    await door('dcm-userdel', 'a', 'b'),
    refused('dcm-userdel: unexpected argument "b" (usage: dcm-userdel NAME [--keep-images] [--keep-storage])\n'),
  );
  const h = await door('dcm-userdel', '--help');
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, /\n {6}--state-dir DIR {8}dcm state directory/);
});
