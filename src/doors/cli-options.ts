/**
 * The options of dcm's doors, as specs of the one argument parser
 * (src/args/parse.ts), from which their --help is generated too:
 * --state-dir DIR and --config FILE (or the DCM_STATE_DIR / DCM_CONFIG
 * variables) for every program, --user NAME for the local doors, --listen for
 * dcm-server. A module of data only: the small door entries read it without
 * loading the shell.
 */
import { takeOptions, type ArgSpec, type FlagSpec, type ParsedArgs } from '../args/parse.js';

const STATE_DIR_FLAG: FlagSpec = {
  type: 'string',
  value: 'DIR',
  notEmpty: true,
  help: 'dcm state directory (default /var/lib/dcm, or $DCM_STATE_DIR)',
};
const CONFIG_FLAG: FlagSpec = {
  type: 'string',
  value: 'FILE',
  notEmpty: true,
  help: 'configuration file (default /etc/dcm/config.yaml, or $DCM_CONFIG)',
};
/** --state-dir and --config: every program takes them. */
export const PATH_FLAGS: Record<string, FlagSpec> = { 'state-dir': STATE_DIR_FLAG, config: CONFIG_FLAG };

/** `dcm`: its options stand anywhere among the command's words. */
export const DCM_FLAGS: Record<string, FlagSpec> = {
  user: { type: 'string', value: 'NAME', notEmpty: true, help: 'act for this dcm user (root only; refused under sudo)' },
  ...PATH_FLAGS,
};

/** How `dcm` is called, shown above its options in `dcm --help`. */
export const DCM_SYNOPSIS = [
  'sudo dcm COMMAND [ARGS] [--json]     as yourself, through sudo',
  'dcm --user NAME COMMAND [ARGS]       as root, acting for a user',
  'sudo dcm                             the interactive shell (on a terminal)',
  "dcm --version                        dcm's version and the container engine's",
];

/** `dcm-shell`: the forced command; the wrapper or the command= line fixes its options, the user's words come in SSH_ORIGINAL_COMMAND. */
export const DCM_SHELL_SPEC: ArgSpec = {
  positional: [],
  flags: {
    user: { type: 'string', value: 'NAME', notEmpty: true, help: "the dcm user, on the service account's command= line only" },
    // The environment may come from the user (sshd's AcceptEnv): only these flags count.
    'state-dir': { ...STATE_DIR_FLAG, help: 'dcm state directory (default /var/lib/dcm; DCM_STATE_DIR is not read)' },
    config: { ...CONFIG_FLAG, help: 'configuration file (default /etc/dcm/config.yaml; DCM_CONFIG is not read)' },
  },
};

/** `dcm-server`. */
export const DCM_SERVER_SPEC: ArgSpec = {
  positional: [],
  flags: {
    listen: { type: 'string', value: 'ADDR:PORT', notEmpty: true, help: 'where to listen (default server.listen, 127.0.0.1:2222)' },
    ...PATH_FLAGS,
  },
};

export interface GlobalOptions {
  stateDir?: string;
  configFile?: string;
  user?: string;
  rest: string[];
}

/** The global options among parsed flags. */
export function globalsOf(flags: ParsedArgs['flags'], rest: string[] = []): GlobalOptions {
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const out: GlobalOptions = { rest };
  const stateDir = str(flags['state-dir']);
  const configFile = str(flags.config);
  const user = str(flags.user);
  if (stateDir !== undefined) out.stateDir = stateDir;
  if (configFile !== undefined) out.configFile = configFile;
  if (user !== undefined) out.user = user;
  return out;
}

/**
 * Options that stand anywhere among a command's words (`dcm show --user
 * alice`, `dcm-admin users ls --state-dir DIR`): takes `flags`, leaves every
 * other word in `rest`, in order, with a "--" and all after it.
 */
export function takeGlobalOptions(program: string, argv: string[], flags: Record<string, FlagSpec>): GlobalOptions {
  const t = takeOptions(program, argv, flags, { program: true });
  return globalsOf(t.flags, t.rest);
}

/** Writes everything, then exits: stdout may be a pipe that has not drained yet (also output streamed before). */
export function finish(code: number, stdout = '', stderr = ''): void {
  if (stderr) process.stderr.write(stderr);
  process.stdout.write(stdout, () => process.exit(code));
}
