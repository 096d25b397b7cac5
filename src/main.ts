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

/** Opens the store and connects the engine (dockerode is loaded only here). */
export async function openApp(src: ConfigSource, engine?: Engine): Promise<App> {
  const config: Config = loadConfig(src);
  const store = Store.open(config.dbFile);
  const eng = engine ?? new (await import('./engine/docker-engine.js')).DockerEngine(config.engine.socket);
  return { config, store, engine: eng, close: () => store.close() };
}
