/** Turns XState's inspection stream into the node's `transitions$` and peer state changes. */
import type { InspectionEvent, StateValue } from 'xstate';
import { stateName } from '../inspector/stateValue.js';
import type { PeerOutput } from '../machines/peerConnection.machine.js';
import type { RouteInfo } from '../webrtc/fingerprint.js';
import type { PeerStatus } from './peerBook.js';
import type { Transition } from './types.js';

/** What one inspection event meant: a state change, and the peer's new status if a peer actor made it. */
export interface TrackedChange {
  transition: Transition;
  peer?: PeerStatus;
}

/**
 * Remembers each actor's last state, so a snapshot that leaves the state unchanged (a context update)
 * is not reported as a transition.
 *
 * @example
 * ```ts
 * const tracker = new TransitionTracker();
 * createActor(nodeMachine, { inspect: (event) => { const change = tracker.track(event); ... } });
 * ```
 */
export class TransitionTracker {
  /** By actor session, so a replaced peer actor with the same id starts afresh. */
  readonly #lastState = new Map<string, string>();

  /** The change `event` made, if it is a snapshot of a state machine actor that moved. */
  track(event: InspectionEvent): TrackedChange | undefined {
    if (event.type !== '@xstate.snapshot') return undefined;
    const snapshot = event.snapshot as { value?: StateValue; status: string; output?: unknown; context?: { route?: RouteInfo; stall?: string } };
    if (!('value' in snapshot)) return undefined; // callback actors (socket, transport) have no states
    const ref = event.actorRef as unknown as { id: string; sessionId: string };
    const actor = ref.id;
    const to = stateName(snapshot.value!);
    const key = ref.sessionId;
    const from = this.#lastState.get(key);
    if (from === to) return undefined;
    if (snapshot.status === 'active') this.#lastState.set(key, to);
    else this.#lastState.delete(key);
    const at = Date.now();
    const transition = { actor, from: from ?? '', to, event: event.event.type, at };
    if (!actor.startsWith('peer.')) return { transition };
    const id = actor.slice('peer.'.length);
    const output = snapshot.status === 'done' ? (snapshot.output as PeerOutput) : undefined;
    return { transition, peer: { id, state: to, since: at, route: snapshot.context?.route, stall: snapshot.context?.stall, output } };
  }
}
