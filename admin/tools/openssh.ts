/**
 * `dcm-admin openssh`: the host-OpenSSH way in. Prints (or with --install
 * writes) the sshd_config snippet that sends members of the dcm group to
 * dcm-shell through sudo, the sudoers rule that lets exactly that command run
 * as root without arguments, and a small wrapper at a fixed path. With
 * --authorized-keys it prints instead the service-account lines, one per key:
 * restrict,pty,command="dcm-shell --user NAME".
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import type { Config } from '../../src/config.js';
import { DEFAULT_CONFIG_FILE, DEFAULT_STATE_DIR, PACKAGE_ROOT } from '../../src/paths.js';
import type { Store } from '../../src/store/store.js';
import { str } from '../../src/shell/command.js';
import type { AdminTool } from './admin-cli.js';

/** Where the wrapper lives: sudoers names this exact path. */
const SHELL_WRAPPER = '/usr/local/sbin/dcm-shell';

/** The program the wrapper runs: the bundled one when built, else the compiled module. */
function dcmShellProgram(): string {
  const bundled = join(PACKAGE_ROOT, 'dist/bin/dcm-shell.mjs');
  return existsSync(bundled) ? bundled : join(PACKAGE_ROOT, 'dist/src/doors/dcm-shell.js');
}

/** Files `--install` writes, relative to the destination root. */
export interface OpensshFiles {
  wrapper: string;
  sshd: string;
  sudoers: string;
}

function opensshFiles(config: Config): OpensshFiles {
  const extra = [
    ...(config.stateDir !== DEFAULT_STATE_DIR ? [` --state-dir ${config.stateDir}`] : []),
    ...(config.configFile && config.configFile !== DEFAULT_CONFIG_FILE ? [` --config ${config.configFile}`] : []),
  ].join('');
  return {
    wrapper: [
      '#!/bin/sh',
      '# dcm-shell for OpenSSH (written by dcm-admin openssh --install).',
      `exec ${process.execPath} ${dcmShellProgram()}${extra} "$@"`,
      '',
    ].join('\n'),
    sshd: [
      '# dcm: members of the dcm group get the restricted shell and nothing else.',
      `Match Group ${config.openssh.group}`,
      `    ForceCommand sudo -n ${SHELL_WRAPPER}`,
      '    DisableForwarding yes',
      '    AllowTcpForwarding no',
      '    AllowStreamLocalForwarding no',
      '    AllowAgentForwarding no',
      '    X11Forwarding no',
      '    PermitTunnel no',
      '    PermitUserRC no',
      '',
    ].join('\n'),
    sudoers: [
      '# dcm: the dcm group may run dcm-shell as root, with no arguments (""),',
      '# keeping only the variables sshd set for the session.',
      `Defaults!${SHELL_WRAPPER} env_keep += "SSH_ORIGINAL_COMMAND SSH_CONNECTION"`,
      `%${config.openssh.group} ALL=(root) NOPASSWD: ${SHELL_WRAPPER} ""`,
      '',
    ].join('\n'),
  };
}

/** One authorized_keys line per registered key, for the service account. */
function serviceAccountLines(store: Store): string[] {
  return store.users
    .list()
    .flatMap((u) =>
      store.users.keys(u.name).map((k) => `restrict,pty,command="${SHELL_WRAPPER} --user ${u.name}" ${k.algo} ${k.key_b64} ${u.name}`),
    );
}

export const openssh: AdminTool = {
  name: 'dcm-admin openssh',
  summary: 'Print (or --install) the sshd_config snippet, sudoers rule and wrapper for dcm-shell behind OpenSSH.',
  details: [
    `--install writes ${SHELL_WRAPPER}, /etc/ssh/sshd_config.d/dcm.conf and /etc/sudoers.d/dcm (checked with visudo when present);`,
    'reload sshd afterwards. --authorized-keys prints the service-account lines instead (one per key).',
  ].join('\n'),
  args: {
    positional: [],
    flags: {
      install: { type: 'bool', help: 'write the files instead of printing them' },
      'authorized-keys': { type: 'bool', help: 'print restrict,pty,command="dcm-shell --user NAME" lines for the service account' },
      root: { type: 'string', value: 'DIR', help: 'with --install: write under DIR instead of / (for staging)' },
    },
  },
  async run(app, a) {
    if (a.flags['authorized-keys']) {
      const lines = serviceAccountLines(app.store);
      return { text: lines.join('\n'), json: { serviceAccount: app.config.openssh.service_account, lines } };
    }
    const f = opensshFiles(app.config);
    const targets: [string, string, number][] = [
      [SHELL_WRAPPER, f.wrapper, 0o755],
      ['/etc/ssh/sshd_config.d/dcm.conf', f.sshd, 0o644],
      ['/etc/sudoers.d/dcm', f.sudoers, 0o440],
    ];
    if (!a.flags.install) {
      const text = targets.map(([p, body]) => `# ---- ${p}\n${body}`).join('\n');
      return { text: text.trimEnd(), json: Object.fromEntries(targets.map(([p, body]) => [p, body])) };
    }
    const root = str(a.flags.root) ?? '/';
    const written: string[] = [];
    for (const [p, body, mode] of targets) {
      const dest = join(root, p);
      mkdirSync(dirname(dest), { recursive: true });
      writeFileSync(dest, body, { mode });
      written.push(dest);
    }
    let visudo = 'visudo not found: check /etc/sudoers.d/dcm yourself';
    try {
      execFileSync('visudo', ['-cf', join(root, '/etc/sudoers.d/dcm')], { stdio: 'pipe' });
      visudo = 'sudoers rule checked with visudo';
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
        visudo = `visudo rejected the sudoers rule: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`;
    }
    return {
      text: [...written.map((w) => `wrote ${w}`), visudo, 'reload sshd to apply (e.g. systemctl reload ssh)'].join('\n'),
      json: { written, visudo },
    };
  },
};
