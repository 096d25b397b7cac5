/**
 * `--version` for every program (dcm, dcm-shell, dcm-server and the admin
 * tools): dcm's version, and that of the engine at the socket the
 * configuration names. It answers for anyone and never fails: a
 * configuration it cannot read, or an engine that does not answer, is said
 * on the engine's line. Loaded only when asked for.
 */
import type { FlagSpec } from '../args/parse.js';
import type { ConfigSource } from '../config.js';
import { userLine } from '../errors.js';
import { finish } from './cli-options.js';

export const VERSION_FLAG: FlagSpec = { type: 'bool', help: "print dcm's version and the container engine's, then exit" };

/** Prints both versions and exits 0; the configuration is found as the program would find it (`src`). */
export async function printVersion(src: ConfigSource): Promise<void> {
  const { versionReport, versionText } = await import('../version.js');
  let ask: (() => Promise<{ version: string; apiVersion: string }>) | null = null;
  let why = '';
  try {
    const { loadConfig } = await import('../config.js');
    const config = loadConfig(src);
    const { DockerEngine } = await import('../engine/docker-engine.js');
    const engine = new DockerEngine(config.engine.socket);
    ask = () => engine.version();
  } catch (e) {
    why = `the configuration that names its socket could not be read: ${userLine(e)}`;
  }
  finish(0, `${versionText(await versionReport(ask, why))}\n`);
}
