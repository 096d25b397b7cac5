/**
 * The interactive shell over dcm-server, driven through OpenSSH `ssh -tt`
 * with a scripted keyboard: prompt, help, tab completion, the create wizard,
 * show, stop, rm with confirmation (no, then yes), colour rules, exit.
 */
import { tp } from '../helpers/ports.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { TestEnv, dockerInspect, type TestUser } from '../helpers/env.js';
import { KEY, Typist, clientCfg, ssh2Connect, startServer, type ServerProc } from '../helpers/ssh.js';

const PORT = tp(32010);
const EXTRA_PORT = tp(31145); // inside this file's range, outside its ssh_ports

describe('dcm-server interactive shell', () => {
  const env = new TestEnv({
    tag: 'sshint',
    sshPorts: '31100-31139',
    extraYaml: 'presets:\n  big:\n    memory: 1g\ndefaults:\n  presets: [big]\n',
  });
  // Extra ports stay inside this file's range too.
  writeFileSync(
    env.configFile,
    readFileSync(env.configFile, 'utf8').replace('network:\n', `network:\n  extra_ports: "${tp(31140)}-${tp(31149)}"\n`),
  );
  let server: ServerProc;
  let alice: TestUser;

  before(async () => {
    await env.registerBase();
    alice = await env.addUser('alice');
    server = await startServer(env, PORT);
  });
  after(async () => {
    await server?.stop();
    await env.cleanup();
  });

  test('create by wizard, show, stop, rm with confirmation, exit', async () => {
    const t = Typist.ssh(alice.keyFile, PORT, 'alice');
    try {
      let at = await t.expect(/alice@dcm> /);
      t.type('help' + KEY.enter);
      at = await t.expect(/commands:[\s\S]*alice@dcm> /, at);
      // Tab completes a command name.
      t.type('who' + KEY.tab);
      at = await t.expect(/whoami/, at);
      t.type(KEY.enter);
      at = await t.expect(/alice[\s\S]*alice@dcm> /, at);

      t.type('create' + KEY.enter);
      at = await t.expect(/Image/, at);
      at = await t.expect(/dcm\/debian-base:bookworm/, at);
      t.type(KEY.enter);
      // A granted preset is offered after the image.
      at = await t.expect(/Preset[\s\S]*none[\s\S]*big/, at);
      t.type(KEY.down);
      // Enter only once the pointer has moved, or it would pick "none".
      at = await t.expect(/❯ big/, at);
      t.type(KEY.enter);
      at = await t.expect(/Extra ports/, at);
      t.type(String(EXTRA_PORT) + KEY.enter);
      at = await t.expect(/Name/, at);
      t.type('web' + KEY.enter);
      at = await t.expect(new RegExp(`running: create dcm/debian-base:bookworm --name web --preset big --port ${EXTRA_PORT}`), at);
      at = await t.expect(/ssh -p (\d+) root@127\.0\.0\.1[\s\S]*alice@dcm> /, at, 120_000);
      const id = /ssh -p (\d+) root@/.exec(t.text())![1]!;
      const inspected = await dockerInspect(env.dockerName(Number(id)));
      assert.equal(inspected?.HostConfig?.Memory, 1024 ** 3, 'the preset chosen in the wizard applies');

      // Tab completes the user's own container name.
      t.type('show w' + KEY.tab);
      at = await t.expect(/show web/, at);
      t.type(KEY.enter);
      at = await t.expect(new RegExp(`container ${id} \\(web\\)[\\s\\S]*alice@dcm> `), at);

      t.type('stop web' + KEY.enter);
      at = await t.expect(/stopped .*web.*now exited[\s\S]*alice@dcm> /, at, 60_000);

      t.type('rm web' + KEY.enter);
      at = await t.expect(/Remove container web/, at);
      t.type('n' + KEY.enter);
      at = await t.expect(/kept[\s\S]*alice@dcm> /, at);
      assert.equal((await env.dcmJson('alice', 'show')).length, 1);

      t.type('rm web' + KEY.enter);
      at = await t.expect(/Remove container web/, at);
      t.type('y' + KEY.enter);
      at = await t.expect(new RegExp(`removed ${id} \\(web\\)[\\s\\S]*alice@dcm> `), at, 60_000);
      assert.deepEqual(await env.dcmJson('alice', 'show'), []);

      t.type('exit' + KEY.enter);
      await t.expect(/logout/, at);
      assert.equal(await t.exit, 0);
    } finally {
      t.kill();
    }
  });

  test('Ctrl-C in a wizard cancels it; Ctrl-D leaves', async () => {
    const t = Typist.ssh(alice.keyFile, PORT, 'alice');
    try {
      let at = await t.expect(/alice@dcm> /);
      t.type('create' + KEY.enter);
      at = await t.expect(/Image/, at);
      t.type(KEY.ctrlC);
      at = await t.expect(/cancelled[\s\S]*alice@dcm> /, at);
      t.type(KEY.ctrlD);
      await t.expect(/logout/, at);
      assert.equal(await t.exit, 0);
      assert.deepEqual(await env.dcmJson('alice', 'show'), []);
    } finally {
      t.kill();
    }
  });

  test('colour only where the terminal has it: xterm yes, dumb and NO_COLOR no', async () => {
    const c = await ssh2Connect(clientCfg(PORT, 'alice', alice.keyFile));
    const screen = (term: string, env: Record<string, string> = {}) =>
      new Promise<string>((resolve, reject) => {
        c.shell({ term, cols: 100, rows: 30 }, { env }, (err, ch) => {
          if (err) return reject(err);
          let out = '';
          ch.on('data', (d: Buffer) => {
            out += d;
            if (out.includes('> ')) {
              ch.write('whoami\r');
              ch.write('\x04');
            }
          });
          ch.on('close', () => resolve(out));
        });
      });
    try {
      const xterm = await screen('xterm-256color');
      // biome-ignore lint/suspicious/noControlCharactersInRegex: colour codes start with ESC
      assert.match(xterm, /\x1b\[1m/);
      assert.match(xterm, /\r\n/, 'line feeds become CR LF on a pty');
      // biome-ignore lint/suspicious/noControlCharactersInRegex: colour codes start with ESC
      assert.doesNotMatch(await screen('dumb'), /\x1b\[[0-9;]*m/);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: colour codes start with ESC
      assert.doesNotMatch(await screen('xterm-256color', { NO_COLOR: '1' }), /\x1b\[[0-9;]*m/);
    } finally {
      c.end();
    }
  });

  test('a window-change mid-session is taken: the line being typed wraps at the new width, and the session carries on', async () => {
    const c = await ssh2Connect(clientCfg(PORT, 'alice', alice.keyFile));
    // Readline lays out the line being typed by the terminal's width: with the
    // prompt (11 columns) and 40 typed characters, Ctrl-A (back to the line's
    // start) moves the cursor up a row (CSI 1 A) only when the line wrapped.
    const UP = '\x1b[1A';
    const typed = 'x'.repeat(40);
    try {
      const out = await new Promise<string>((resolve, reject) => {
        c.shell({ term: 'xterm', cols: 200, rows: 30 }, (err, ch) => {
          if (err) return reject(err);
          let out = '';
          let step = 0;
          let mark = 0;
          // Bounded: a shell that ignores the new width never moves the cursor up.
          const timer = setTimeout(() => reject(new Error(`no answer at step ${step} within 20 s: ${JSON.stringify(out)}`)), 20_000);
          ch.on('data', (d: Buffer) => {
            out += d;
            if (step === 0 && out.includes('> ')) {
              step = 1;
              mark = out.length;
              ch.write(typed);
            } else if (step === 1 && out.slice(mark).includes(typed)) {
              step = 2;
              mark = out.length;
              ch.write('\x01');
              // biome-ignore lint/suspicious/noControlCharactersInRegex: cursor moves start with ESC
            } else if (step === 2 && /\x1b\[\d*[A-DG]/.test(out.slice(mark))) {
              // 200 columns: the line fits; back at its start without going up.
              if (out.includes(UP)) return reject(new Error(`cursor went up at 200 columns: ${JSON.stringify(out)}`));
              step = 3;
              mark = out.length;
              ch.setWindow(20, 30, 0, 0);
              // Ctrl-E then Ctrl-A: to the end of the line and back to its start.
              ch.write('\x05\x01');
            } else if (step === 3 && out.slice(mark).includes(UP)) {
              step = 4;
              ch.write('\x03create\r');
            } else if (step === 4 && out.includes('Image')) {
              step = 5;
              ch.write('\x03');
            } else if (step === 5 && out.includes('cancelled')) {
              step = 6;
              ch.end('exit\r');
            }
          });
          ch.on('close', () => {
            clearTimeout(timer);
            if (step === 6) resolve(out);
            else reject(new Error(`stopped at step ${step}: ${JSON.stringify(out)}`));
          });
        });
      });
      assert.match(out, /logout/);
    } finally {
      c.end();
    }
  });
});
