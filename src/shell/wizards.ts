/**
 * Inquirer wizards of the interactive shell: `create` without an image, and
 * the confirmation before `rm`/`rmi`. They read and write the streams they are
 * given, so they work over an SSH channel as well as on a local terminal. A
 * wizard only builds a command line; CommandCore still checks and runs it.
 */
import { Writable } from 'node:stream';
import { confirm, input, select } from '@inquirer/prompts';
import type { ChalkInstance } from 'chalk';
import { DcmError } from '../errors.js';
import { checkContainerName, checkPort } from '../names.js';
import type { CommandCore } from './core.js';
import { effectivePolicy } from '../policy/effective.js';

/** Streams and cancellation for a prompt, as @inquirer/prompts takes them. */
export interface PromptIo {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  signal?: AbortSignal;
  /** Called as each question starts (the shell gives each its own input budget). */
  beforePrompt?: () => void;
  /** The session's colour (none without it): the questions are styled with it. */
  chalk?: ChalkInstance;
}

/**
 * The questions' look in the session's colour. Inquirer's own default colours
 * follow the server process's terminal, not the user's: without this a user
 * with NO_COLOR or TERM=dumb got escape codes in every question.
 */
function promptTheme(c: ChalkInstance | undefined) {
  const plain = (t: string) => t;
  const paint = (f: (t: string) => string) => (c && c.level > 0 ? f : plain);
  return {
    prefix: { idle: paint((t) => c!.blue(t))('?'), done: paint((t) => c!.green(t))('✔') },
    spinner: { frames: ['-', '\\', '|', '/'] },
    style: {
      answer: paint((t) => c!.cyan(t)),
      message: paint((t) => c!.bold(t)),
      error: (t: string) => paint((x) => c!.red(x))(`> ${t}`),
      defaultAnswer: (t: string) => paint((x) => c!.dim(x))(`(${t})`),
      help: paint((t) => c!.dim(t)),
      highlight: paint((t) => c!.cyan(t)),
      key: (t: string) => paint((x) => c!.cyan.bold(x))(`<${t}>`),
    },
  };
}

/** A select question's look: the common one, and its own parts (disabled entries, descriptions, the keys line). */
function selectTheme(c: ChalkInstance | undefined) {
  const t = promptTheme(c);
  const dim = t.style.help;
  return {
    ...t,
    style: {
      ...t.style,
      disabled: (x: string) => dim(`- ${x}`),
      description: t.style.highlight,
      keysHelpTip: (keys: [string, string][]) => keys.map(([key, action]) => `${t.style.message(key)} ${dim(action)}`).join(dim(' • ')),
    },
  };
}

/** True for the errors inquirer raises on Ctrl-C or when the session goes away. */
export function isPromptCancel(e: unknown): boolean {
  const name = (e as { name?: string } | null)?.name;
  return name === 'ExitPromptError' || name === 'AbortPromptError' || name === 'CancelPromptError';
}

function validWith(check: (s: string) => unknown): (s: string) => true | string {
  return (s) => {
    try {
      check(s);
      return true;
    } catch (e) {
      return e instanceof DcmError ? e.userMessage : String(e);
    }
  };
}

/**
 * Inquirer ends the output stream it was given when a prompt finishes; each
 * prompt therefore writes through its own forwarder that passes data (and the
 * terminal's size and resize events) on but never ends the real stream. It
 * keeps nothing itself: what waits for the client waits in the real stream,
 * where the shell's input guard sees it and reads no more input meanwhile.
 */
function promptContext(io: PromptIo): { input: NodeJS.ReadableStream; output: NodeJS.WritableStream; signal?: AbortSignal } {
  io.beforePrompt?.();
  const target = io.output as NodeJS.WritableStream & { columns?: number; rows?: number; isTTY?: boolean };
  const fwd = new Writable({
    write(chunk, _enc, cb) {
      target.write(chunk);
      cb();
    },
  });
  for (const k of ['columns', 'rows', 'isTTY'] as const) Object.defineProperty(fwd, k, { get: () => target[k] });
  const onResize = () => fwd.emit('resize');
  (target as unknown as Writable).on?.('resize', onResize);
  fwd.on('finish', () => (target as unknown as Writable).off?.('resize', onResize));
  return { input: io.input, output: fwd, signal: io.signal };
}

const splitPorts = (s: string) => s.split(/[\s,]+/).filter(Boolean);

/**
 * Asks for image, a preset (when any are granted), extra ports and name; returns the `create` words to run.
 * Values already given on the command line are used as defaults.
 */
export async function createWizard(
  core: CommandCore,
  user: string,
  io: PromptIo,
  given: { name?: string; ports: string[]; preset?: string },
): Promise<string[]> {
  const images = await core.images.list(user);
  if (images.length === 0) throw new DcmError('not-found', 'no images to create from: ask the administrator to register a base image');
  const image = await select(
    {
      message: 'Image',
      choices: images.map((i) => ({ name: `${i.name}  (${i.kind === 'base' ? 'base image' : 'your image'})`, value: i.name })),
      default: images.find((i) => i.ref === core.deps.config.default_image)?.name,
      theme: selectTheme(io.chalk),
    },
    promptContext(io),
  );
  // Presets are offered only when the administrator granted some.
  const { config, store } = core.deps;
  const granted = effectivePolicy(config, user, store.users.groups(user)).presets.map((p) => p.value);
  const preset = granted.length
    ? await select(
        {
          message: 'Preset',
          choices: [{ name: 'none', value: '' }, ...granted.map((p) => ({ name: p, value: p }))],
          default: given.preset ?? '',
          theme: selectTheme(io.chalk),
        },
        promptContext(io),
      )
    : '';
  const ports = await input(
    {
      message: 'Extra ports to publish (e.g. "8080 8888", empty for none)',
      default: given.ports.join(' '),
      validate: validWith((s) => splitPorts(s).forEach((p) => checkPort(p))),
      theme: promptTheme(io.chalk),
    },
    promptContext(io),
  );
  const name = await input(
    {
      message: 'Name (empty: use the id)',
      default: given.name ?? '',
      validate: validWith((s) => s.trim() && checkContainerName(s.trim())),
      theme: promptTheme(io.chalk),
    },
    promptContext(io),
  );
  return [
    'create',
    image,
    ...(name.trim() ? ['--name', name.trim()] : []),
    ...(preset ? ['--preset', preset] : []),
    ...splitPorts(ports).flatMap((p) => ['--port', p]),
  ];
}

/** Yes/no before something is removed; "no" is the default. */
export function confirmRemoval(what: string, io: PromptIo): Promise<boolean> {
  return confirm({ message: `Remove ${what}?`, default: false, theme: promptTheme(io.chalk) }, promptContext(io));
}
