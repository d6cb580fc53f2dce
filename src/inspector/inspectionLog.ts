import { Subject } from 'rxjs';
import type { InspectionEvent, StateValue } from 'xstate';
import { activeStateIds, stateName } from './stateValue.js';

/** One machine actor as the inspector shows it. */
export interface ActorEntry {
  /** The actor's session id: unique for its whole life, unlike its id (`peer.<id>` comes back). */
  key: string;
  /** The actor's id: `node`, `signaling` or `peer.<node id>`. */
  name: string;
  parent?: string;
  /** The root id of its machine, which names its chart. */
  machine: string;
  state: string;
  /** State ids to highlight in the chart. */
  active: string[];
  status: 'active' | 'done' | 'stopped' | 'error';
  since: number;
  /** Why it ended: a peer's close reason, the signaling actor's error code. */
  reason?: string;
  detail?: string;
}

/** One event an actor processed and the state change it caused (`from === to` when it stayed). */
export interface LogEntry {
  seq: number;
  at: number;
  actor: string;
  event: string;
  from: string;
  to: string;
}

export type InspectorUpdate =
  | { type: 'actor'; actor: ActorEntry }
  | { type: 'log'; entry: LogEntry }
  | { type: 'removed'; keys: string[] };

export interface InspectionLimits {
  /** Log entries kept (and sent to a page that connects); older ones are dropped. */
  logSize: number;
  /** Ended actors kept until cleared; the oldest go first beyond this. */
  endedActors: number;
}

export const DEFAULT_INSPECTION_LIMITS: InspectionLimits = { logSize: 1000, endedActors: 500 };

interface MachineRef {
  id: string;
  sessionId: string;
  _parent?: { sessionId: string };
  logic: { root?: { id: string } };
}

/**
 * The inspector's memory: the actor tree and a capped event log, built from XState inspection
 * events (pure, no IO), with every change also published on {@link updates}.
 *
 * @example
 * ```ts
 * const log = new InspectionLog();
 * createActor(machine, { inspect: (event) => log.inspect(event) }).start();
 * log.updates.subscribe((update) => page.send(update));
 * ```
 */
export class InspectionLog {
  readonly updates = new Subject<InspectorUpdate>();
  readonly #actors = new Map<string, ActorEntry>();
  readonly #ended: string[] = [];
  readonly #log: LogEntry[] = [];
  #seq = 0;

  constructor(readonly limits: InspectionLimits = DEFAULT_INSPECTION_LIMITS) {}

  /** Feed every inspection event of the actor system here. */
  inspect(event: InspectionEvent): void {
    if (event.type !== '@xstate.snapshot') return;
    const ref = event.actorRef as unknown as MachineRef;
    const machine = ref.logic.root?.id;
    if (!machine) return; // callback actors (socket, transport) have no states to show
    const snapshot = event.snapshot as { value: StateValue; status: ActorEntry['status']; output?: unknown; error?: unknown };
    const now = Date.now();
    const previous = this.#actors.get(ref.sessionId);
    // An actor that ended keeps its reason; a later stop of what is already over adds nothing.
    if (previous && previous.status !== 'active') return;
    const state = stateName(snapshot.value);
    const entry: ActorEntry = {
      key: ref.sessionId,
      name: ref.id,
      parent: ref._parent?.sessionId,
      machine,
      state,
      active: activeStateIds(machine, snapshot.value),
      status: snapshot.status,
      since: previous?.state === state ? previous.since : now,
      ...ending(snapshot),
    };
    this.#actors.set(entry.key, entry);
    if (entry.status !== 'active') this.#ended.push(entry.key);
    this.#append({ seq: ++this.#seq, at: now, actor: ref.id, event: event.event.type, from: previous?.state ?? '', to: state });
    this.updates.next({ type: 'actor', actor: entry });
    this.#trimEnded();
  }

  #append(entry: LogEntry): void {
    this.#log.push(entry);
    if (this.#log.length > this.limits.logSize) this.#log.shift();
    this.updates.next({ type: 'log', entry });
  }

  #trimEnded(): void {
    const excess = this.#ended.length - this.limits.endedActors;
    if (excess > 0) this.#remove(this.#ended.splice(0, excess));
  }

  #remove(keys: string[]): void {
    for (const key of keys) this.#actors.delete(key);
    this.updates.next({ type: 'removed', keys });
  }

  /** Forgets every actor that ended (closed peers, a failed signaling actor). */
  clearEnded(): void {
    if (this.#ended.length > 0) this.#remove(this.#ended.splice(0));
  }

  /** Everything a page needs to start from; {@link updates} carries on from here. */
  snapshot(): { actors: ActorEntry[]; log: LogEntry[] } {
    return { actors: [...this.#actors.values()], log: [...this.#log] };
  }
}

/** A finished actor's reason: a peer's `{ reason, detail }` output, the signaling actor's `{ error }`. */
function ending(snapshot: { status: string; output?: unknown; error?: unknown }): Pick<ActorEntry, 'reason' | 'detail'> {
  if (snapshot.status === 'error') return { reason: 'error', detail: String(snapshot.error) };
  if (snapshot.status !== 'done') return {};
  const output = (snapshot.output ?? {}) as { reason?: string; detail?: string; error?: { code?: string; message?: string } };
  if (output.reason) return { reason: output.reason, detail: output.detail };
  if (output.error) return { reason: output.error.code, detail: output.error.message };
  return {};
}
