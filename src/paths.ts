/**
 * Where an installation lives by default, and the files dcm keeps in its state
 * directory. A module of constants only: the small door entry points read it
 * without loading the configuration schema.
 */
import { join } from 'node:path';

export const DEFAULT_STATE_DIR = '/var/lib/dcm';
export const DEFAULT_CONFIG_FILE = '/etc/dcm/config.yaml';

/**
 * The state directory a door or tool uses: its flag, else DCM_STATE_DIR
 * (unless the caller must not trust the environment), else the default.
 */
export function stateDirOf(src: { stateDir?: string; ignoreEnv?: boolean }): string {
  return src.stateDir ?? (src.ignoreEnv ? undefined : process.env.DCM_STATE_DIR) ?? DEFAULT_STATE_DIR;
}

/** dcm-server's local command socket: as powerful as the database beside it, and guarded the same way. */
export const commandSocketPath = (stateDir: string): string => join(stateDir, 'dcm-server.sock');
