import { type ClientHttp2Session, type ClientHttp2Stream, connect, constants } from 'node:http2';

/**
 * A hostile client speaking raw HTTP/2 to a gRPC server, doing what a
 * well-behaved gRPC library never would: opening streams it never finishes,
 * pinging as fast as it can. Every stream and ping is on one connection.
 */
export class RawHttp2Client {
  private constructor(
    readonly session: ClientHttp2Session,
    /** Set when the server sent GOAWAY: its error code (0 = graceful, 11 = ENHANCE_YOUR_CALM). */
    private readonly goaway: { code: number | undefined },
  ) {}

  static async connect(address: string): Promise<RawHttp2Client> {
    const session = connect(`http://${address}`);
    const goaway: { code: number | undefined } = { code: undefined };
    session.on('goaway', (code: number) => {
      goaway.code = code;
    });
    session.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      session.once('remoteSettings', () => resolve());
      session.once('error', reject);
    });
    return new RawHttp2Client(session, goaway);
  }

  /** SETTINGS_MAX_CONCURRENT_STREAMS the server advertised. */
  get maxConcurrentStreams(): number | undefined {
    return this.session.remoteSettings.maxConcurrentStreams;
  }

  get goawayCode(): number | undefined {
    return this.goaway.code;
  }

  get closed(): boolean {
    return this.session.closed || this.session.destroyed;
  }

  /**
   * Opens a gRPC call to `path` and sends its headers but never a message nor
   * the end of the stream: the server holds the stream open, waiting.
   */
  holdOpen(path: string): ClientHttp2Stream {
    const stream = this.session.request({
      [constants.HTTP2_HEADER_METHOD]: 'POST',
      [constants.HTTP2_HEADER_PATH]: path,
      [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
      te: 'trailers',
    });
    stream.on('error', () => {});
    return stream;
  }

  /**
   * How many of `streams` are open on the wire. Past the server's
   * SETTINGS_MAX_CONCURRENT_STREAMS the rest stay idle: HTTP/2 forbids opening
   * them, and a peer that did anyway would get RST_STREAM(REFUSED_STREAM).
   */
  openStreams(streams: readonly ClientHttp2Stream[]): number {
    return streams.filter((stream) => !stream.destroyed && stream.state?.state === constants.NGHTTP2_STREAM_STATE_OPEN)
      .length;
  }

  /**
   * Sends `count` PINGs back to back, each as soon as the last was answered,
   * and returns how many the server answered before it stopped answering.
   */
  async pingFlood(count: number): Promise<number> {
    let answered = 0;
    for (let i = 0; i < count && !this.closed; i += 1) {
      const ok = await new Promise<boolean>((resolve) => {
        try {
          const sent = this.session.ping((error) => resolve(!error));
          if (!sent) resolve(false);
        } catch {
          resolve(false);
        }
      });
      if (!ok) break;
      answered += 1;
    }
    return answered;
  }

  close(): void {
    this.session.destroy();
  }
}

/** Latency figures in milliseconds, for printing. */
export function summarize(samples: readonly number[]): { n: number; p50: number; p95: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
  return { n: sorted.length, p50: at(0.5), p95: at(0.95), max: Math.round(sorted.at(-1) ?? 0) };
}
