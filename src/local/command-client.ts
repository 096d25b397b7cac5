/**
 * The door side of the local command socket. Loads nothing but node:net, so a
 * one-shot `dcm show` or forced-command `dcm-shell` costs a Node start and a
 * round trip instead of loading the program, the config schema and the engine
 * client.
 */
import { connect } from 'node:net';
import { PROTOCOL_VERSION, type CommandReply, type CommandRequest, type DoorFacts } from './command-protocol.js';
import type { NoServer } from './socket-choice.js';

export type Forwardable = { door: 'local'; words: string[] } | { door: 'shell'; command: string };

/**
 * Sends the command to dcm-server. Resolves null only when no server listens
 * (no socket, or nobody behind it): the caller then runs the command itself.
 * Once the request may have been read, it never resolves null, so a command
 * never runs twice.
 */
export async function forwardCommand(socketPath: string, facts: DoorFacts, what: Forwardable, timeoutMs?: number): Promise<CommandReply | null> {
  const r = await askServer(socketPath, facts, what, timeoutMs);
  return 'unsent' in r ? null : r;
}

/**
 * forwardCommand that also says why nothing was sent: nobody listens behind
 * the socket (refused, gone), or this process may not connect to it.
 */
export function askServer(socketPath: string, facts: DoorFacts, what: Forwardable, timeoutMs = 15 * 60 * 1000): Promise<CommandReply | { unsent: NoServer }> {
  return new Promise((resolve) => {
    const sock = connect(socketPath);
    let sent = false;
    let buf = '';
    const timer = setTimeout(() => done({ code: 1, stdout: '', stderr: 'dcm: dcm-server did not answer in time\n' }), timeoutMs);
    const done = (r: CommandReply | { unsent: NoServer }) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    sock.on('connect', () => {
      const req = { v: PROTOCOL_VERSION, facts, ...what } as CommandRequest;
      sent = true;
      sock.end(JSON.stringify(req) + '\n');
    });
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (buf += d));
    sock.on('end', () => {
      try {
        const r = JSON.parse(buf) as CommandReply;
        if (typeof r.code === 'number' && typeof r.stdout === 'string' && typeof r.stderr === 'string') return done(r);
      } catch { /* answered below */ }
      done({ code: 1, stdout: '', stderr: 'dcm: dcm-server gave no answer (see its log)\n' });
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      // Nothing was asked: no socket or nobody listening (the server is not running), or not ours to use.
      if (!sent) return done({ unsent: e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? 'not-running' : 'no-access' });
      done({ code: 1, stdout: '', stderr: `dcm: lost dcm-server while running the command: ${e.message}\n` });
    });
  });
}
