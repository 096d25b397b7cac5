/** What every manager needs: the store, the engine and the configuration. */
import type { Config } from '../config.js';
import type { Engine } from '../engine/engine.js';
import type { Store } from '../store/store.js';
import type { HostNet } from '../net/host-net.js';

export interface Deps {
  store: Store;
  engine: Engine;
  config: Config;
  /** Host port probes; the real network when absent. */
  net?: HostNet;
}
