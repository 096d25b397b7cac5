/**
 * Options every dcm program takes wherever they stand on the command line:
 * --state-dir DIR, --config FILE (and the DCM_STATE_DIR / DCM_CONFIG
 * variables), plus --user for the local door.
 */
import { DcmError } from '../errors.js';

export interface GlobalOptions {
  stateDir?: string;
  configFile?: string;
  user?: string;
  rest: string[];
}

const GLOBAL = { '--state-dir': 'stateDir', '--config': 'configFile', '--user': 'user' } as const;

export function takeGlobalOptions(argv: string[], allowed: (keyof typeof GLOBAL)[]): GlobalOptions {
  const out: GlobalOptions = { rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i]!;
    if (w === '--') {
      out.rest.push(...argv.slice(i));
      break;
    }
    const [flag, inline] = w.startsWith('--') && w.includes('=') ? [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)] : [w, undefined];
    if (flag in GLOBAL && allowed.includes(flag as keyof typeof GLOBAL)) {
      const value = inline ?? argv[++i];
      if (value === undefined || value === '') throw new DcmError('usage', `${flag} needs a value`);
      out[GLOBAL[flag as keyof typeof GLOBAL]] = value;
    } else {
      out.rest.push(w);
    }
  }
  return out;
}

/** Writes everything, then exits: stdout may be a pipe that has not drained yet (also output streamed before). */
export function finish(code: number, stdout = '', stderr = ''): void {
  if (stderr) process.stderr.write(stderr);
  process.stdout.write(stdout, () => process.exit(code));
}
