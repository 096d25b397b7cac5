/**
 * Where an installation lives by default, and the files dcm keeps in its state
 * directory. A module of constants only: the small door entry points read it
 * without loading the configuration schema.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Root of the installed package (dist/src/paths.js, or a bundle in dist/bin → ../..). */
export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const DEFAULT_STATE_DIR = '/var/lib/dcm';
export const DEFAULT_CONFIG_FILE = '/etc/dcm/config.yaml';

/**
 * The state directory a door or tool uses: its flag, else DCM_STATE_DIR
 * (unless the caller must not trust the environment), else the default.
 */
export function stateDirOf(src: { stateDir?: string; ignoreEnv?: boolean }): string {
  return src.stateDir ?? (src.ignoreEnv ? undefined : process.env.DCM_STATE_DIR) ?? DEFAULT_STATE_DIR;
}

/** The database of an installation: config.dbFile, and what dcm-admin restore replaces without reading the configuration. */
export const dbFileOf = (stateDir: string): string => join(stateDir, 'dcm.db');

/**
 * dcm-server's command sockets live in <state dir>/run, a directory owned by
 * root that no one else may change (0711: the service account may reach its
 * own socket in it, no one may list or replace anything).
 */
export const socketDir = (stateDir: string): string => join(stateDir, 'run');

/**
 * The socket for callers that are root: `dcm` as root or through sudo, and
 * `dcm-shell` through sudo. 0600 root in a 0700 root directory, so the facts a
 * caller sends (sudo's SUDO_USER, --user) come from root, who may act for
 * anyone anyway.
 */
export const rootSocketPath = (stateDir: string): string => join(stateDir, 'run', 'root', 'command.sock');

/**
 * The socket for the service account's forced-command `dcm-shell --user NAME`:
 * 0600 owned by that account (config openssh.service_account), so only it can
 * connect, and the server takes the caller's account from the socket.
 */
export const serviceSocketPath = (stateDir: string): string => join(stateDir, 'run', 'service.sock');

/** Where dcm-server before the two sockets listened; a new server removes a socket left there. */
export const legacySocketPath = (stateDir: string): string => join(stateDir, 'dcm-server.sock');
