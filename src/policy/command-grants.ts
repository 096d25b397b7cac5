/**
 * Which user commands exist for the policy, and which a user has when no
 * layer says (`commands: { allow: [...], deny: [...] }` in defaults, groups
 * and users). This table is the one place a command's default is set: a new
 * command is added here with `true` (granted unless denied) or `false` (off
 * until a layer allows it). Commands that let users run or bring images of
 * their own choosing (`run`; `load` and `pull` when they arrive) go in with
 * `false`, so that an upgrade never hands them out on its own. `attach`,
 * `wait` and `exec` act only on the user's own running containers, as an
 * `ssh -p` login into them does, and are on. Pure data, so
 * that the configuration schema can read it without loading the shell.
 */
export const COMMAND_DEFAULTS = {
  create: true,
  run: false,
  show: true,
  start: true,
  stop: true,
  restart: true,
  pause: true,
  unpause: true,
  rm: true,
  logs: true,
  attach: true,
  wait: true,
  exec: true,
  commit: true,
  images: true,
  rmi: true,
  gpus: true,
  whoami: true,
  version: true,
} as const satisfies Record<string, boolean>;

/** A command the policy may grant or deny. */
export type GrantableCommand = keyof typeof COMMAND_DEFAULTS;

/** Every name `commands.allow` and `commands.deny` accept, in the table's order. */
export const GRANTABLE_COMMANDS = Object.keys(COMMAND_DEFAULTS) as GrantableCommand[];

/** Other names a command answers to in the shell; the policy names the command itself. */
export const COMMAND_ALIASES: Readonly<Record<string, GrantableCommand>> = { ps: 'show' };

/** Always there, never in a grant list: `help` lists only what the user has. */
export const ALWAYS_AVAILABLE = ['help'] as const;

export const isGrantable = (name: string): name is GrantableCommand => Object.hasOwn(COMMAND_DEFAULTS, name);
