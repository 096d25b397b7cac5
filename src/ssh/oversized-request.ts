/**
 * ssh2 reads at most 35000 bytes per SSH packet (RFC 4253's minimum): on a
 * longer one, such as an exec request with a 40 KB command, it throws "Bad
 * packet length" while reading the packet's length and can read nothing more
 * from that connection. It can still send, though. A session that has not
 * started its command yet is where such a request was going, so that session
 * gets what a too-long command gets below the packet limit: the request is
 * answered, one line on stderr, the usage exit status, and the channel
 * closes; then the connection ends.
 *
 * ssh2 offers no public way to answer a request it could not read, so this
 * speaks through its protocol object; if that ever changes shape, the
 * connection just closes as before.
 */
import type { Socket } from 'node:net';
import type { Connection, Session } from 'ssh2';

/** The few protocol calls used here, as ssh2 1.x names them. */
interface ProtocolCalls {
  channelSuccess(chan: number): void;
  channelExtData(chan: number, data: Buffer, type: number): void;
  exitStatus(chan: number, status: number): void;
  channelEOF(chan: number): void;
  channelClose(chan: number): void;
}

const STDERR = 1;

/** True for ssh2's error about a packet longer than it reads. */
export function isOversizedPacket(e: Error): boolean {
  return /^Bad packet length/.test(e.message);
}

function protocolOf(client: Connection): ProtocolCalls | null {
  const p = (client as unknown as { _protocol?: Partial<ProtocolCalls> })._protocol;
  const calls = ['channelSuccess', 'channelExtData', 'exitStatus', 'channelEOF', 'channelClose'] as const;
  return p && calls.every((c) => typeof p[c] === 'function') ? (p as ProtocolCalls) : null;
}

function peerChannelOf(session: Session): number | null {
  const id = (session as unknown as { _chanInfo?: { outgoing?: { id?: unknown } } })._chanInfo?.outgoing?.id;
  return typeof id === 'number' ? id : null;
}

/** Answers `session`'s unread request with `line` on stderr and exit `status`; false when it cannot. */
export function answerUnreadRequest(client: Connection, session: Session, line: string, status: number): boolean {
  const proto = protocolOf(client);
  const chan = peerChannelOf(session);
  if (!proto || chan === null) return false;
  try {
    proto.channelSuccess(chan);
    proto.channelExtData(chan, Buffer.from(line), STDERR);
    proto.exitStatus(chan, status);
    proto.channelEOF(chan);
    proto.channelClose(chan);
    return true;
  } catch {
    return false;
  }
}

/**
 * ssh2 ends the socket right after reporting the oversized packet; an
 * OpenSSH client that reads that end together with the answer says
 * "Connection closed by remote host" and exits 255 instead of with the
 * command's status. The end is put off until the client hangs up itself
 * (it does once the channel is closed), at most `ms`.
 */
export function lingerBeforeEnd(socket: Socket, ms: number): void {
  const end = socket.end.bind(socket);
  let timer: NodeJS.Timeout | undefined;
  socket.once('close', () => clearTimeout(timer));
  socket.end = ((...args: Parameters<Socket['end']>) => {
    socket.end = end;
    timer ??= setTimeout(() => end(...args), ms);
    return socket;
  }) as Socket['end'];
}
