/**
 * Composition root: the one place dcm is wired together. Every door and
 * admin tool gets its parts here and builds none itself.
 *
 *   openApp     configuration → store → engine → host network → managers →
 *               command core: dcm, dcm-shell, the admin tools, the benches.
 *   openServer  openApp over the live policy (reloaded on SIGHUP and when the
 *               file changes), then reconcile, the host key, the SSH server
 *               and the command sockets: dcm-server.
 *
 * From here, a command is two hops away: the core's command table
 * (src/shell/commands/index.ts) names each command's file, and every command
 * runs through the managers built below (src/manager/).
 */
import { loadConfig, type Config, type ConfigSource } from './config.js';
import type { Engine } from './engine/engine.js';
import { ContainerManager } from './manager/container-manager.js';
import type { Deps } from './manager/deps.js';
import { ImageManager } from './manager/image-manager.js';
import type { Managers } from './manager/managers.js';
import { UserManager } from './manager/user-manager.js';
import { realHostNet, type HostNet } from './net/host-net.js';
import { CommandCore } from './shell/core.js';
import { Store } from './store/store.js';

/** Everything a door or an admin tool uses: the dependencies, the managers over them and the command core. */
export interface App extends Deps, Managers {
  core: CommandCore;
  close(): void;
}

export interface AppOptions extends ConfigSource {
  /** The configuration, when the caller has already read it (dcm-shell's identity rules): never read twice. */
  config?: Config;
  /** A configuration that changes while the process runs (dcm-server's policy), read afresh at every use. */
  live?: { readonly current: Config };
  /** The container engine; the Docker engine at engine.socket when absent (tests give the fake one). */
  engine?: Engine;
  /** Host port probes and sshd readiness; the host's own when absent. */
  net?: HostNet;
  /** Where the command core logs what only the administrator should see. */
  log?: (line: string) => void;
}

/** Opens the store and the engine (dockerode is loaded only here) and builds the managers and the command core. */
export async function openApp(o: AppOptions = {}): Promise<App> {
  const live = o.live;
  const config = live?.current ?? o.config ?? loadConfig(o);
  const store = Store.open(config.dbFile);
  try {
    const engine = o.engine ?? new (await import('./engine/docker-engine.js')).DockerEngine(config.engine.socket);
    const net = o.net ?? realHostNet;
    const deps: Deps = live
      ? {
          store,
          engine,
          net,
          get config() {
            return live.current;
          },
        }
      : { store, engine, net, config };
    const parts = assemble(deps, o.log);
    return {
      store,
      engine,
      net,
      get config() {
        return deps.config;
      },
      ...parts,
      close: () => store.close(),
    };
  } catch (e) {
    store.close();
    throw e;
  }
}

/**
 * The managers and the command core over one set of dependencies: the second
 * half of openApp, for tests that open their own store and configuration.
 */
export function assemble(deps: Deps, log?: (line: string) => void): Managers & { core: CommandCore } {
  const managers: Managers = { containers: new ContainerManager(deps), images: new ImageManager(deps), users: new UserManager(deps) };
  return { ...managers, core: new CommandCore(deps, managers, log) };
}

export interface ServerOptions extends ConfigSource {
  /** ADDR:PORT to listen on (`--listen`); server.listen from the configuration when absent. Port 0 takes a free one. */
  listen?: string;
  /** One event per line: reloads, reconcile, the host key, sockets, refusals (dcm-server prints them with a time). */
  log(line: string): void;
  /** As in openApp (tests: the fake engine). */
  engine?: Engine;
  net?: HostNet;
}

export interface RunningServer {
  app: App;
  /** Where the SSH server listens (the port chosen when 0 was asked for). */
  address: { host: string; port: number };
  /** Ends every session, closes the listener and the command sockets, stops following the policy, closes the store. */
  stop(): Promise<void>;
}

/**
 * dcm-server's parts, started in order: the policy (read once here, then
 * followed), the app over it, reconcile (the server comes up even with the
 * engine down: commands then say so), the host key, the SSH listener and the
 * command sockets. Throws (with nothing left open) when the configuration,
 * the listen address or the listener is refused.
 */
export async function openServer(o: ServerOptions): Promise<RunningServer> {
  // Loaded only here: a door that runs one command must not pay for the SSH server.
  const [
    { PolicySource },
    { parseListen },
    { reconcileAtStart, reconcileEvery },
    { loadOrCreateHostKey },
    { DcmSshServer },
    { startCommandSockets },
  ] = await Promise.all([
    import('./policy-io/policy-source.js'),
    import('./ssh/listen.js'),
    import('./manager/reconcile-at-start.js'),
    import('./ssh/host-key.js'),
    import('./ssh/server.js'),
    import('./doors/command-sockets.js'),
  ]);
  const src: ConfigSource = { ...(o.stateDir ? { stateDir: o.stateDir } : {}), ...(o.configFile ? { configFile: o.configFile } : {}) };
  // Policy edits take effect without a restart; an invalid file is refused and
  // the previous configuration stays. The listener, host key and the server's
  // own limits are fixed at start.
  const policy = new PolicySource({
    ...src,
    onReload: (r, why) => o.log(r.ok ? `configuration reloaded (${why})` : `configuration not reloaded (${why}): ${r.error}`),
  });
  let app: App | undefined;
  try {
    const listen = parseListen(o.listen ?? policy.current.server.listen);
    app = await openApp({ ...src, live: policy, engine: o.engine, net: o.net, log: o.log });
    policy.watch();
    policy.onSighup();
    await reconcileAtStart(app, o.log);
    const key = loadOrCreateHostKey(app.config.stateDir);
    const server = new DcmSshServer({ core: app.core, hostKeyPem: key.pem, host: listen.host, port: listen.port, log: o.log });
    const address = await server.listen();
    o.log(`host key ${key.path}${key.created ? ' (new)' : ''}: ED25519 ${key.fingerprint}`);
    // One-shot doors (dcm COMMAND, forced-command dcm-shell) hand their command here.
    const commands = await startCommandSockets({ core: app.core, slots: server.slots, stateDir: app.config.stateDir, log: o.log }).catch(
      async (e: unknown) => {
        await server.stop();
        throw e;
      },
    );
    const opened = app;
    // Then again and again, for what a crashed one-shot door leaves meanwhile. Read once: fixed at start.
    const periodic = reconcileEvery(app, app.config.server.reconcile_interval, o.log);
    return {
      app: opened,
      address,
      stop: async () => {
        periodic.stop();
        await Promise.all([server.stop(), commands.stop()]);
        policy.close();
        opened.close();
      },
    };
  } catch (e) {
    policy.close();
    app?.close();
    throw e;
  }
}
