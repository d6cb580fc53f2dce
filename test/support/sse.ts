import type { ActorEntry, InspectorUpdate, LogEntry } from '../../src/inspector/inspectionLog.js';

export interface Hello {
  charts: Record<string, string>;
  actors: ActorEntry[];
  log: LogEntry[];
}

/**
 * Reads the inspector's event stream the way the page does: the `hello` state, then every batch of
 * updates, applied to a local copy so tests can wait for what a page would show.
 */
export class InspectorStream {
  hello: Hello | undefined;
  readonly actors = new Map<string, ActorEntry>();
  readonly log: LogEntry[] = [];
  readonly #abort = new AbortController();
  readonly #waiters = new Set<() => void>();

  static async open(url: string): Promise<InspectorStream> {
    const stream = new InspectorStream();
    const res = await fetch(new URL('/events', url), { signal: stream.#abort.signal });
    if (!res.ok || !res.body) throw new Error(`inspector answered ${res.status}`);
    void stream.#read(res.body).catch(() => {});
    await stream.until(() => stream.hello !== undefined);
    return stream;
  }

  async #read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of body) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        this.#message(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  }

  #message(block: string): void {
    const lines = block.split('\n');
    const event = lines.find((l) => l.startsWith('event: '))?.slice(7) ?? 'message';
    const data = lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
    if (!data) return; // keepalive comment
    if (event === 'hello') {
      this.hello = JSON.parse(data) as Hello;
      for (const actor of this.hello.actors) this.actors.set(actor.key, actor);
      this.log.push(...this.hello.log);
    } else {
      for (const update of JSON.parse(data) as InspectorUpdate[]) this.#apply(update);
    }
    for (const wake of this.#waiters) wake();
  }

  #apply(update: InspectorUpdate): void {
    if (update.type === 'actor') this.actors.set(update.actor.key, update.actor);
    else if (update.type === 'log') this.log.push(update.entry);
    else for (const key of update.keys) this.actors.delete(key);
  }

  byName(name: string): ActorEntry | undefined {
    return [...this.actors.values()].filter((a) => a.name === name).at(-1);
  }

  /** Resolves once `condition` holds after some message, or rejects after `ms`. */
  until(condition: () => boolean, ms = 10_000): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error('inspector stream: condition not met in time'));
      }, ms);
      const check = () => {
        if (!condition()) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve();
      };
      this.#waiters.add(check);
    });
  }

  close(): void {
    this.#abort.abort();
  }
}
