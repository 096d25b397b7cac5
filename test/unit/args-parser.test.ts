/**
 * The one argument parser (src/args): shell commands, admin tools and the
 * doors read their words with it, refuse with exact one-line messages and
 * generate their help from the same spec.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DcmError } from '../../src/errors.js';
import { HELP_FLAG, parseArgs, takeOptions, type ArgSpec } from '../../src/args/parse.js';
import { helpText } from '../../src/args/help.js';
import { DCM_FLAGS, DCM_SERVER_SPEC, takeGlobalOptions } from '../../src/doors/cli-options.js';

const refusal = (line: string) => (e: unknown) => e instanceof DcmError && e.code === 'usage' && e.userMessage === line;

test('a program refuses with one line that does not repeat its name and points to its --help', () => {
  const o = { program: true, extra: { help: HELP_FLAG } };
  assert.throws(
    () => parseArgs('dcm-server', ['--bogus'], DCM_SERVER_SPEC, o),
    refusal('unknown option --bogus (try "dcm-server --help")'),
  );
  assert.throws(() => parseArgs('dcm-server', ['--listen'], DCM_SERVER_SPEC, o), refusal('--listen needs a value (ADDR:PORT)'));
  assert.throws(() => parseArgs('dcm-server', ['--state-dir='], DCM_SERVER_SPEC, o), refusal('--state-dir needs a value (DIR)'));
  assert.throws(
    () => parseArgs('dcm-server', ['now'], DCM_SERVER_SPEC, o),
    refusal('unexpected argument "now" (usage: dcm-server [--listen ADDR:PORT] [--state-dir DIR] [--config FILE])'),
  );
  assert.throws(
    () => parseArgs('dcm-server', ['--json'], DCM_SERVER_SPEC, o),
    refusal('unknown option --json (try "dcm-server --help")'),
    'only the extra flags given are taken',
  );
  // After "--" every word is an argument.
  assert.throws(
    () => parseArgs('dcm-server', ['--', '--help'], DCM_SERVER_SPEC, o),
    refusal('unexpected argument "--help" (usage: dcm-server [--listen ADDR:PORT] [--state-dir DIR] [--config FILE])'),
  );
  assert.deepEqual(parseArgs('dcm-server', ['--listen=[::]:2222', '-h'], DCM_SERVER_SPEC, o), {
    flags: { listen: '[::]:2222', help: true },
    positional: [],
  });
});

test('a shell command keeps its refusals: "NAME: ..." and a pointer to "help NAME"', () => {
  const spec: ArgSpec = { positional: ['CONTAINER'], flags: { force: { type: 'bool', short: 'f', help: '' } } };
  assert.throws(() => parseArgs('rm', ['--privileged'], spec), refusal('rm: unknown option --privileged (try "help rm")'));
  assert.throws(() => parseArgs('rm', [], spec), refusal('rm: missing CONTAINER (usage: rm CONTAINER [-f|--force])'));
  assert.throws(() => parseArgs('rm', ['-f=1', 'x'], spec), refusal('rm: unknown option -f (try "help rm")'));
  assert.throws(() => parseArgs('rm', ['--force=1', 'x'], spec), refusal('rm: --force takes no value'));
});

test("names of an object's built-in properties are unknown options, not flags", () => {
  const spec: ArgSpec = { positional: ['CONTAINER?'], flags: {} };
  for (const w of ['--constructor', '--__proto__', '--toString', '--hasOwnProperty']) {
    assert.throws(() => parseArgs('show', [w, 'x'], spec), refusal(`show: unknown option ${w} (try "help show")`), w);
  }
});

test('global options are taken wherever they stand; every other word stays, in order, with "--" and what follows', () => {
  const g = takeGlobalOptions(
    'dcm',
    ['show', '--user', 'alice', '-n', '5', '--json', '--config=/etc/x.yaml', 'web', '--', '--state-dir', 'y'],
    DCM_FLAGS,
  );
  assert.deepEqual(g, { user: 'alice', configFile: '/etc/x.yaml', rest: ['show', '-n', '5', '--json', 'web', '--', '--state-dir', 'y'] });
  assert.throws(() => takeGlobalOptions('dcm', ['show', '--state-dir'], DCM_FLAGS), refusal('--state-dir needs a value (DIR)'));
  assert.throws(() => takeGlobalOptions('dcm', ['--user=', 'show'], DCM_FLAGS), refusal('--user needs a value (NAME)'));
  assert.throws(() => takeGlobalOptions('dcm', ['--user', 'a', 'show', '--user', 'b'], DCM_FLAGS), refusal('--user given twice'));
  // Nothing but the named flags is taken: --help and --json are the command's.
  assert.deepEqual(takeOptions('dcm', ['--help', '-h', '--json'], DCM_FLAGS, { program: true }), {
    flags: {},
    rest: ['--help', '-h', '--json'],
  });
});

test('help is generated from the spec: usage lines, summary, details and one line per option', () => {
  const text = helpText({
    usage: ['tool NAME [--key K]...', 'tool --list'],
    summary: 'Does one thing.',
    details: 'More about it.',
    options: { key: { type: 'list', short: 'k', value: 'K', help: 'a key' }, list: { type: 'bool', help: 'list them' } },
    width: 12,
  });
  assert.equal(
    text,
    [
      'usage: tool NAME [--key K]...',
      '       tool --list',
      '',
      'Does one thing.',
      '',
      'More about it.',
      '',
      'options:',
      '  -k, --key K  a key',
      '      --list   list them',
    ].join('\n'),
  );
});

test('several containers, a command after its image, and short switches written together', () => {
  const several: ArgSpec = { positional: ['CONTAINER...'], flags: { force: { type: 'bool', short: 'f', help: '' } } };
  assert.deepEqual(parseArgs('rm', ['-f', 'a', 'b', '--', '-c'], several), { flags: { force: true }, positional: ['a', 'b', '-c'] });
  assert.throws(() => parseArgs('rm', ['-f'], several), refusal('rm: missing CONTAINER (usage: rm CONTAINER... [-f|--force])'));
  const run: ArgSpec = {
    positional: ['IMAGE', 'COMMAND?...'],
    commandAfter: 1,
    flags: {
      interactive: { type: 'bool', short: 'i', help: '' },
      tty: { type: 'bool', short: 't', help: '' },
      detach: { type: 'bool', short: 'd', help: '' },
      name: { type: 'string', help: '' },
    },
  };
  // Options stand before IMAGE; every word after it is the command's, options included.
  assert.deepEqual(parseArgs('run', ['-it', '--name', 'x', 'img', 'ls', '-la', '--json'], run), {
    flags: { interactive: true, tty: true, name: 'x' },
    positional: ['img', 'ls', '-la', '--json'],
  });
  // A "--" right after IMAGE is dropped; a later one is the command's.
  assert.deepEqual(parseArgs('run', ['-d', 'img', '--', 'sh', '--', 'x'], run).positional, ['img', 'sh', '--', 'x']);
  assert.deepEqual(parseArgs('run', ['img'], run).positional, ['img']);
  assert.throws(
    () => parseArgs('run', ['-d'], run),
    refusal('run: missing IMAGE (usage: run [-i|--interactive] [-t|--tty] [-d|--detach] [--name VALUE] IMAGE [COMMAND...])'),
  );
  // Only switches join: a bundle with an unknown letter is refused whole.
  assert.throws(() => parseArgs('run', ['-itx', 'img'], run), refusal('run: unknown option -itx (try "help run")'));
  assert.throws(() => parseArgs('run', ['--it', 'img'], run), refusal('run: unknown option --it (try "help run")'));
});
