/**
 * A bare WebSocket speaking Engine.IO 4 / Socket.IO 5 frames by hand, for tests that must send what
 * socket.io-client never would: malformed packets, reserved event names, binary attachments with
 * forged placeholders, JSON nested deeper than any encoder would recurse, frames of an exact size.
 */
import WebSocket from 'ws';

interface Waiter {
  match: (frame: string) => boolean;
  resolve: (frame: string) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** What {@link RawSocketIo.request} resolves with: the first ack argument, or the reason there was none. */
export type RawReply = { kind: 'ack'; value: unknown } | { kind: 'closed' } | { kind: 'timeout' };

export class RawSocketIo {
  readonly #ws: WebSocket;
  readonly #waiters = new Set<Waiter>();
  #nextId = 0;
  #open = true;
  /** Resolves with the WebSocket close code once the connection is gone, whoever closed it. */
  readonly closed: Promise<number>;
  /** Text frames received, in order (pings excluded). */
  readonly frames: string[] = [];

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    // A server-side destroy surfaces as ECONNRESET here; it is an expected outcome, never a test crash.
    ws.on('error', () => {});
    this.closed = new Promise((resolve) => {
      ws.once('close', (code) => {
        this.#abandon();
        resolve(code);
      });
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const text = data.toString();
      if (text === '2') {
        ws.send('3'); // Engine.IO ping → pong
        return;
      }
      this.frames.push(text);
      for (const waiter of this.#waiters) {
        if (!waiter.match(text)) continue;
        clearTimeout(waiter.timer);
        this.#waiters.delete(waiter);
        waiter.resolve(text);
      }
    });
  }

  /** Opens the WebSocket, joins the default namespace and waits for the server's `challenge`. */
  static async connect(port: number, ms = 3000): Promise<{ raw: RawSocketIo; challenge: { nonce: string } }> {
    const result = await RawSocketIo.open(port, ms);
    if ('refused' in result) throw new Error(`handshake refused: ${result.refused.status} ${result.refused.body}`);
    return result;
  }

  /** As {@link connect}, but a refused upgrade resolves with its HTTP status and body instead of throwing. */
  static async open(
    port: number,
    ms = 3000,
  ): Promise<{ raw: RawSocketIo; challenge: { nonce: string } } | { refused: { status: number; body: string } }> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`);
    const raw = new RawSocketIo(ws);
    const refused = new Promise<{ refused: { status: number; body: string } }>((resolve) => {
      ws.once('unexpected-response', (req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          req.destroy();
          raw.#abandon(); // no connection will come: drop the waits (and their timers) right away
          resolve({ refused: { status: res.statusCode ?? 0, body } });
        });
      });
    });
    const opened = (async () => {
      const hello = raw.#next((f) => f.startsWith('0{'), ms);
      const challenge = raw.#next((f) => f.startsWith('42["challenge"'), ms);
      challenge.catch(() => {});
      await hello;
      raw.send('40');
      const frame = await challenge;
      return { raw, challenge: (JSON.parse(frame.slice(2)) as [string, { nonce: string }])[1] };
    })();
    opened.catch(() => {}); // a refusal wins the race; the abandoned wait must not become an unhandled rejection
    return Promise.race([opened, refused]);
  }

  get isOpen(): boolean {
    return this.#open && this.#ws.readyState === WebSocket.OPEN;
  }

  /** Sends one WebSocket frame as is (text, or binary for a Buffer). */
  send(frame: string | Uint8Array): void {
    if (!this.isOpen) return;
    this.#ws.send(frame, { binary: typeof frame !== 'string' });
  }

  /** A fresh ack id, unique on this connection. */
  nextId(): number {
    return this.#nextId++;
  }

  /** Waits for the ack `43<id>[...]`; a connection that closes first, or silence for `ms`, is reported as such. */
  async reply(id: number, ms = 3000): Promise<RawReply> {
    if (!this.isOpen) return { kind: 'closed' };
    const prefix = `43${id}[`;
    try {
      const frame = await this.#next((f) => f.startsWith(prefix), ms);
      return { kind: 'ack', value: (JSON.parse(frame.slice(prefix.length - 1)) as unknown[])[0] };
    } catch (err) {
      return (err as Error).message === 'closed' ? { kind: 'closed' } : { kind: 'timeout' };
    }
  }

  /** Sends `frame` (built with `id`) and waits for its ack. */
  async request(build: (id: number) => string, ms = 3000): Promise<RawReply> {
    const id = this.nextId();
    const answer = this.reply(id, ms);
    this.send(build(id));
    return answer;
  }

  /** Closes the connection and waits until it is gone. */
  async close(): Promise<void> {
    if (this.#ws.readyState === WebSocket.CONNECTING || this.#ws.readyState === WebSocket.OPEN) this.#ws.terminate();
    await this.closed;
  }

  #abandon(): void {
    this.#open = false;
    for (const waiter of this.#waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error('closed'));
    }
    this.#waiters.clear();
  }

  #next(match: (frame: string) => boolean, ms: number): Promise<string> {
    if (!this.#open) return Promise.reject(new Error('closed'));
    const seen = this.frames.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.delete(waiter);
          reject(new Error(`timed out after ${ms} ms`));
        }, ms),
      };
      this.#waiters.add(waiter);
    });
  }
}
