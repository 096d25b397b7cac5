// Lives in policy-io, not policy: it watches files and listens for SIGHUP, and policy/ stays pure.
/**
 * The current configuration of a long-running process (dcm-server), reloaded on
 * SIGHUP or when the file changes. A file that does not validate, cannot be
 * read or has disappeared (moved away mid-edit) is refused and the last good
 * configuration stays in force, so neither a typo nor a missing file ever opens
 * or closes the server by accident. Short-lived programs (dcm, dcm-shell, admin tools) read
 * the file on every run and do not need this.
 *
 * Use: `const src = new PolicySource({ configFile }); src.watch(); src.onSighup();`
 * and read `src.current` for every new command (never keep a Config across
 * commands): e.g. build Deps as `{ store, engine, get config() { return src.current; } }`.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { loadConfig, type Config, type ConfigSource } from '../config.js';
import { userLine } from '../errors.js';

/** What a reload did: the new config, or why the file was refused. */
export type ReloadResult = { ok: true; config: Config } | { ok: false; error: string };

export interface PolicySourceOptions extends ConfigSource {
  /** Told about each reload (e.g. to log it); the default is silent. */
  onReload?: (r: ReloadResult, why: 'sighup' | 'file' | 'call') => void;
  /** Loader, replaceable in tests; default loadConfig. */
  load?: (src: ConfigSource) => Config;
  /** Quiet period after a file event before reloading (editors write in bursts). */
  debounceMs?: number;
}

export class PolicySource {
  private config: Config;
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private hup: (() => void) | null = null;
  private readonly load: (src: ConfigSource) => Config;

  /** Loads once; throws (DcmError 'config') if the initial file is invalid: refuse to start. */
  constructor(private readonly opts: PolicySourceOptions = {}) {
    this.load = opts.load ?? loadConfig;
    this.config = this.load(this.src());
  }

  /** The configuration in force now. */
  get current(): Config {
    return this.config;
  }

  /** Re-reads the file; keeps the old configuration if the new one is invalid. */
  reload(why: 'sighup' | 'file' | 'call' = 'call'): ReloadResult {
    let r: ReloadResult;
    try {
      r = { ok: true, config: this.load(this.src()) };
      this.config = r.config;
    } catch (e) {
      r = { ok: false, error: `${userLine(e)} (keeping the previous configuration)` };
    }
    this.opts.onReload?.(r, why);
    return r;
  }

  /**
   * Watches the file's directory, not the file: editors and config managers
   * replace the file by rename, which a watch on the old inode never sees.
   */
  watch(): void {
    const file = this.config.configFile;
    if (!file || this.watcher) return;
    const name = basename(file);
    this.watcher = watch(dirname(file), (_event, changed) => {
      if (changed !== null && changed !== name) return;
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.timer = null;
        this.reload('file');
      }, this.opts.debounceMs ?? 200);
    });
    this.watcher.unref();
  }

  /** Reloads on SIGHUP (the classic daemon convention). */
  onSighup(): void {
    if (this.hup) return;
    this.hup = () => void this.reload('sighup');
    process.on('SIGHUP', this.hup);
  }

  close(): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.hup) process.off('SIGHUP', this.hup);
    this.hup = null;
  }

  private src(): ConfigSource {
    return {
      ...(this.opts.stateDir ? { stateDir: this.opts.stateDir } : {}),
      ...(this.opts.configFile ? { configFile: this.opts.configFile } : {}),
    };
  }
}
