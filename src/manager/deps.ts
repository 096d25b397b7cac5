/**
 * What every manager needs: the store, the engine, the configuration and the
 * host's network probes. Built once, in src/main.ts.
 */
import type { Config } from '../config.js';
import type { Engine } from '../engine/engine.js';
import type { Store } from '../store/store.js';
import type { HostNet } from '../net/host-net.js';

export interface Deps {
  store: Store;
  engine: Engine;
  config: Config;
  /** Host port probes and sshd readiness (realHostNet; tests give their own). */
  net: HostNet;
}
