import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkContainerName, checkUserName, normaliseImageRef, parseImageNameTag, checkPort } from '../../src/names.js';
import { joinWords, splitWords } from '../../src/shell/words.js';
import { parseArgs } from '../../src/args/parse.js';

test('user names: unix and docker safe, reserved ones refused', () => {
  for (const ok of ['alice', 'bob2', 'a_b', 'mary-jane']) assert.equal(checkUserName(ok), ok);
  for (const bad of ['', 'Alice', '1abc', 'a-', '-a', 'a..b', 'a/b', 'root', 'x'.repeat(33), 'a b', 'a;rm'])
    assert.throws(() => checkUserName(bad), /invalid user name|reserved/, bad);
});

test('container names: hostname-like, not all digits', () => {
  assert.equal(checkContainerName('box-1'), 'box-1');
  for (const bad of ['20001', '-x', 'x-', 'a_b', 'a.b', '', 'x'.repeat(64), '../x'])
    assert.throws(() => checkContainerName(bad), /invalid container name/, bad);
});

test('image NAME[:TAG] parsing', () => {
  assert.deepEqual(parseImageNameTag('tools'), { name: 'tools', tag: 'latest' });
  assert.deepEqual(parseImageNameTag('my.tools:v1.2'), { name: 'my.tools', tag: 'v1.2' });
  for (const bad of ['Tools', 'a/b', 'x:', 'x:-a', '../x', 'x y']) assert.throws(() => parseImageNameTag(bad), /invalid/, bad);
  assert.equal(normaliseImageRef('dcm/debian-base'), 'dcm/debian-base:latest');
  assert.equal(normaliseImageRef('localhost:5000/a/b:1'), 'localhost:5000/a/b:1');
  assert.throws(() => normaliseImageRef('a b'), /invalid image reference/);
});

test('ports', () => {
  assert.equal(checkPort('8080'), 8080);
  for (const bad of ['0', '65536', '80a', '-1', '']) assert.throws(() => checkPort(bad), /invalid port/);
});

test('command lines split like a shell, without a shell', () => {
  assert.deepEqual(splitWords(`create --name "my box" 'a b' c\\ d`), ['create', '--name', 'my box', 'a b', 'c d']);
  assert.deepEqual(splitWords('show; rm -rf /'), ['show;', 'rm', '-rf', '/']);
  assert.deepEqual(splitWords(`x ""`), ['x', '']);
  assert.throws(() => splitWords('show "x'), /unterminated/);
});

test('joinWords gives a line that splits back into exactly the same words', () => {
  for (const words of [[], ['show'], ['create', '--name', 'my box'], ['', "it's", '"q"', 'a\\b', 'tab\tnl\n', "''", '$(x) `y` ;|&']]) {
    assert.deepEqual(splitWords(joinWords(words)), words);
  }
});

test("flags are checked against each command's spec", () => {
  const spec = {
    positional: ['IMAGE?'],
    flags: {
      name: { type: 'string' as const, help: '' },
      port: { type: 'list' as const, short: 'p', help: '' },
      force: { type: 'bool' as const, short: 'f', help: '' },
    },
  };
  const a = parseArgs('create', ['img', '--name=x', '-p', '1', '--port', '2', '-f', '--json'], spec);
  assert.deepEqual(a, { flags: { name: 'x', port: ['1', '2'], force: true, json: true }, positional: ['img'] });
  assert.throws(() => parseArgs('create', ['--privileged'], spec), /unknown option --privileged/);
  assert.throws(() => parseArgs('create', ['--name'], spec), /needs a value/);
  assert.throws(() => parseArgs('create', ['a', 'b'], spec), /unexpected argument "b"/);
  assert.throws(() => parseArgs('create', ['--name', 'a', '--name', 'b'], spec), /given twice/);
  assert.throws(() => parseArgs('rm', [], { positional: ['CONTAINER'], flags: {} }), /missing CONTAINER/);
});
