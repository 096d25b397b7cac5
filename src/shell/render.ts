/** Plain-text rendering shared by commands: tables, sizes, container summaries. */
import type { ContainerView, ImageView } from '../manager/views.js';
import { formatSize } from '../sizes.js';
import { endLine } from '../manager/container-state.js';
import { clip, printable } from '../names.js';

export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

/** A size as users write it (binary units: 2g is 2 GiB); "-" when unknown. */
export function humanSize(bytes: number | null): string {
  return bytes === null ? '-' : formatSize(bytes);
}

function portsText(c: ContainerView): string {
  return c.ports.map((p) => `${p.ip}:${p.host}->${p.container}`).join(', ');
}

/** A job's command as `show` prints it: its words, escaped and clipped; the image's own when it gave none. */
export function jobCommand(c: ContainerView): string {
  if (!c.job) return '';
  return c.job.command.length ? clip(printable(c.job.command.join(' ')), 40) : "(the image's command)";
}

/** The state, with the exit code of one that has ended. */
function stateText(c: ContainerView): string {
  return c.end?.exitCode !== null && c.end?.exitCode !== undefined ? `${c.state} (${c.end.exitCode})` : c.state;
}

export function containersTable(list: ContainerView[]): string {
  if (list.length === 0) return 'no containers (create one with "create", or run a job with "run")';
  return table(
    ['ID', 'NAME', 'IMAGE', 'STATE', 'SSH', 'PORTS'],
    list.map((c) => [
      String(c.id),
      c.name ?? '-',
      c.image,
      stateText(c),
      // A job has no sshd: its command stands where the address would.
      c.job ? `job: ${jobCommand(c)}${c.job.rm ? ' (--rm)' : ''}` : `${c.host}:${c.sshPort}`,
      portsText(c) || '-',
    ]),
  );
}

export function imagesTable(list: ImageView[]): string {
  if (list.length === 0) return 'no images';
  return table(
    ['IMAGE', 'KIND', 'SIZE', 'CREATED', 'USED BY'],
    list.map((i) => [i.name, i.kind, humanSize(i.sizeBytes), i.createdAt.slice(0, 16).replace('T', ' '), i.inUseBy.join(',') || '-']),
  );
}

/** How to reach a container: what `create` and `show ID` print (with how it last ended, when it did). */
export function reachText(c: ContainerView, user: string): string {
  const head = `container ${c.id}${c.name ? ` (${c.name})` : ''} from ${c.image} is ${c.state}`;
  // Nothing to reach: the engine no longer has it.
  if (c.state === 'gone') return `${head}: ${c.status}`;
  const ended = endLine(c.state, c.end);
  if (c.job) {
    const how = [
      c.job.root ? 'as root' : `as ${user}`,
      ...(c.job.tty ? ['with a terminal'] : []),
      ...(c.job.rm ? ['removed when it ends'] : []),
    ];
    return [
      `job ${head.slice('container '.length)}`,
      `  command: ${jobCommand(c)} (${how.join(', ')})`,
      ...(ended ? [`  ${ended}`] : []),
    ].join('\n');
  }
  const lines = [
    head,
    ...(ended ? [`  ${ended}`] : []),
    ...(c.rootLogin ? [`  ssh -p ${c.sshPort} root@${c.host}`] : []),
    `  ssh -p ${c.sshPort} ${user}@${c.host}`,
  ];
  for (const p of c.ports) lines.push(`  port ${p.container} -> ${p.ip}:${p.host}`);
  return lines.join('\n');
}

export function containerJson(c: ContainerView) {
  return {
    id: c.id,
    name: c.name,
    image: c.image,
    state: c.state,
    status: c.status,
    end: c.end,
    host: c.host,
    ip: c.ip,
    sshPort: c.sshPort,
    ports: c.ports,
    createdAt: c.createdAt,
    job: c.job,
  };
}
