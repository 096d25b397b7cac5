/**
 * Composition root: configuration → store → engine → command core. Every door
 * and admin tool builds its dependencies here and nowhere else.
 */
import { loadConfig, type Config, type ConfigSource } from './config.js';
import type { Engine } from './engine/engine.js';
import type { Deps } from './manager/deps.js';
import { Store } from './store/store.js';

export interface App extends Deps {
  close(): void;
}

/**
 * Opens the store and connects the engine (dockerode is loaded only here).
 * A caller that already read the configuration passes it as `config`.
 */
export async function openApp(src: ConfigSource & { config?: Config }, engine?: Engine): Promise<App> {
  const config: Config = src.config ?? loadConfig(src);
  const store = Store.open(config.dbFile);
  const eng = engine ?? new (await import('./engine/docker-engine.js')).DockerEngine(config.engine.socket);
  return { config, store, engine: eng, close: () => store.close() };
}
