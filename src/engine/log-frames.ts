/** Docker's multiplexed log stream, shared by the capped `logs` and by `logs -f`. */

/** Splits Docker's multiplexed stream (8-byte header: kind, 0, 0, 0, length) into payloads (containers without a TTY). */
export class Frames {
  private pending = Buffer.alloc(0);

  /** `raw`: the container has a terminal, and its stream is its bytes as they are (no frames). */
  constructor(
    private readonly onPayload: (b: Buffer, stream: 'stdout' | 'stderr') => void,
    private readonly raw = false,
  ) {}

  push(d: Buffer): void {
    if (this.raw) return this.onPayload(d, 'stdout');
    let b = this.pending.length ? Buffer.concat([this.pending, d]) : d;
    while (b.length >= 8) {
      const len = b.readUInt32BE(4);
      if (b.length < 8 + len) break;
      this.onPayload(b.subarray(8, 8 + len), b[0] === 2 ? 'stderr' : 'stdout');
      b = b.subarray(8 + len);
    }
    // A partial frame waits for the rest; it is never more than one frame (Docker's are at most 16 KB of log).
    this.pending = Buffer.from(b);
  }
}
