/** dcm-admin backup and restore: the database's copies (src/store/backup.ts does the work). */
import { connect } from 'node:net';
import { DcmError } from '../../src/errors.js';
import { dbFileOf, rootSocketPath, stateDirOf } from '../../src/paths.js';
import { restoreBackup, writeBackup } from '../../src/store/backup.js';
import type { AdminTool } from './admin-cli.js';

const kib = (n: number) => `${Math.max(1, Math.round(n / 1024))} KiB`;
const holds = (f: { users: number; containers: number; images: number }) =>
  `${f.users} users, ${f.containers} containers, ${f.images} images`;

export const backup: AdminTool = {
  name: 'dcm-admin backup',
  summary: 'Copy the database to FILE (consistent, while dcm-server runs; mode 0600).',
  details: [
    "The copy is taken with SQLite's online backup: one consistent moment, while dcm keeps working.",
    'FILE is written whole or not at all (a temporary file beside it, renamed), readable by root only.',
    'It holds every user, key and container row: keep it as private as the database.',
  ].join('\n'),
  args: { positional: ['FILE'], flags: { force: { type: 'bool', help: 'replace FILE if it exists' } } },
  async run(app, a) {
    const r = await writeBackup(app.store, a.positional[0]!, a.flags.force === true);
    return { text: `backed up ${app.store.path} to ${r.file} (${kib(r.bytes)}, ${holds(r)}) in ${r.ms} ms`, json: r };
  },
};

/** Whether dcm-server answers on its root command socket (a server that is up, not a stale socket file). */
function serverAnswers(stateDir: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(rootSocketPath(stateDir));
    const timer = setTimeout(() => (s.destroy(), resolve(true)), 2000); // something is there and does not say no
    s.on('connect', () => (clearTimeout(timer), s.destroy(), resolve(true)));
    s.on('error', () => (clearTimeout(timer), resolve(false)));
  });
}

export const restore: AdminTool = {
  name: 'dcm-admin restore',
  summary: 'Put a backup made by dcm-admin backup back as the database (dcm-server must be stopped).',
  details: [
    "Refused: a file that fails SQLite's integrity check, a backup of another installation, one made by",
    'a newer dcm, and any restore while dcm-server runs (stop it first). The database as it was is kept',
    'as <database>.before-restore-<time>. Afterwards run dcm-admin reconcile --dry-run: containers made',
    'after the backup have no row and would be removed, rows of containers removed since are dropped.',
  ].join('\n'),
  args: { positional: ['FILE'], flags: {} },
  async runAlone(src, a) {
    const stateDir = stateDirOf(src);
    if (await serverAnswers(stateDir))
      throw new DcmError('conflict', 'dcm-server is running on this installation: stop it first, then restore');
    const r = await restoreBackup(dbFileOf(stateDir), a.positional[0]!);
    const kept = r.before ? `; the database as it was is kept in ${r.before}` : '';
    return { text: `restored ${r.dbFile} from ${r.file} (${holds(r)}) in ${r.ms} ms${kept}`, json: r };
  },
};
