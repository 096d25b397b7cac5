/**
 * dcm's own version (package.json's) and the engine's, for the `version`
 * command and every program's --version. The engine is asked once, bounded
 * by the engine watchdog; when it does not answer, the report says so rather
 * than failing: dcm's version is still worth knowing then.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from './paths.js';
import type { EngineVersion } from './engine/engine.js';
import { userLine } from './errors.js';

/** The version in the installed package.json. */
export function dcmVersion(): string {
  try {
    const v = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version?: unknown }).version;
    return typeof v === 'string' ? v : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** What `version` and `--version` report; `engineError` says why `engine` is null. */
export interface VersionReport {
  dcm: string;
  engine: EngineVersion | null;
  engineError: string | null;
  /** False when the engine could not even be asked (no configuration to find its socket in). */
  engineAsked: boolean;
}

/** Asks the engine; `ask` null means it cannot be asked at all (`why` says why). */
export async function versionReport(ask: (() => Promise<EngineVersion>) | null, why = 'not asked'): Promise<VersionReport> {
  const dcm = dcmVersion();
  if (!ask) return { dcm, engine: null, engineError: why, engineAsked: false };
  try {
    return { dcm, engine: await ask(), engineError: null, engineAsked: true };
  } catch (e) {
    return { dcm, engine: null, engineError: userLine(e), engineAsked: true };
  }
}

export function versionText(r: VersionReport): string {
  const engine = r.engine
    ? `engine ${r.engine.version} (Engine API ${r.engine.apiVersion})`
    : `engine ${r.engineAsked ? 'not reachable' : 'not asked'}: ${r.engineError ?? 'unknown'}`;
  return `dcm ${r.dcm}\n${engine}`;
}
