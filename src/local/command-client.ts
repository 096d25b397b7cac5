/**
 * The door side of the local command socket. Loads nothing but node:net, so a
 * one-shot `dcm show` or forced-command `dcm-shell` costs a Node start and a
 * round trip instead of loading the program, the config schema and the engine
 * client.
 */
import { connect } from 'node:net';
import { PROTOCOL_VERSION, type CommandReply, type CommandRequest, type DoorFacts } from './command-protocol.js';

export type Forwardable = { door: 'local'; words: string[] } | { door: 'shell'; command: string };

/**
 * Sends the command to dcm-server. Resolves null only when no server listens
 * (no socket, or nobody behind it): the caller then runs the command itself.
 * Once the request may have been read, it never resolves null, so a command
 * never runs twice.
 */
export function forwardCommand(socketPath: string, facts: DoorFacts, what: Forwardable, timeoutMs = 15 * 60 * 1000): Promise<CommandReply | null> {
  return new Promise((resolve) => {
    const sock = connect(socketPath);
    let sent = false;
    let buf = '';
    const timer = setTimeout(() => done({ code: 1, stdout: '', stderr: 'dcm: dcm-server did not answer in time\n' }), timeoutMs);
    const done = (r: CommandReply | null) => {
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
      if (!sent) return done(null); // nothing was asked: no socket, nobody listening, or not ours to use
      done({ code: 1, stdout: '', stderr: `dcm: lost dcm-server while running the command: ${e.message}\n` });
    });
  });
}
