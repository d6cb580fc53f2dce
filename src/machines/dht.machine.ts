/**
 * The DHT's lifecycle under the node supervisor: `joining` until the node has looked itself up
 * through the peers the server introduced, then `ready`, or `degraded` while it holds fewer contacts
 * than lookups need. Ready, it is `refreshing` while a refresh round's lookups run. The engine runs in the overlay actor; this machine relays between it and the
 * supervisor, and is what the inspector and `transitions$` show of the DHT.
 */
import { assign, sendParent, sendTo, setup } from 'xstate';
import type { Overlay, OverlayCommand, OverlayEvent } from '../services/overlay.js';
import { overlayActor } from '../services/overlay.js';

export interface DhtMachineInput {
  overlay: Overlay;
  /** Fewer contacts than this is `degraded`: lookups then have too few parallel paths. Default 4. */
  minContacts: number;
}

export interface DhtContext extends DhtMachineInput {
  contacts: number;
  links: number;
}

export type DhtMachineEvent = OverlayEvent | OverlayCommand;

/** Events the DHT machine passes up to the supervisor unchanged. */
const TO_SUPERVISOR = ['OVERLAY.CONNECT', 'OVERLAY.BOOTSTRAP', 'SIGNAL.IN', 'OVERLAY.SIGNAL_FAILED'] as const;

/**
 * @example
 * ```ts
 * const machine = nodeMachine.provide({ actors: { dht: dhtMachine } });
 * ```
 */
export const dhtMachine = setup({
  types: {
    input: {} as DhtMachineInput,
    context: {} as DhtContext,
    events: {} as DhtMachineEvent,
  },
  actors: { overlay: overlayActor },
  guards: {
    enoughContacts: ({ context, event }) => event.type === 'OVERLAY.LINKS' && event.contacts >= context.minContacts,
    tooFewContacts: ({ context, event }) => event.type === 'OVERLAY.LINKS' && event.contacts < context.minContacts,
  },
  actions: {
    countLinks: assign(({ event }) => (event.type === 'OVERLAY.LINKS' ? { contacts: event.contacts, links: event.links } : {})),
    toOverlay: sendTo('overlay', ({ event }) => event as OverlayCommand),
    toSupervisor: sendParent(({ event }) => event),
  },
}).createMachine({
  id: 'dht',
  context: ({ input }) => ({ ...input, contacts: 0, links: 0 }),
  invoke: { id: 'overlay', src: 'overlay', input: ({ context }) => ({ overlay: context.overlay }) },
  initial: 'joining',
  on: {
    'OVERLAY.LINKS': { actions: 'countLinks' },
    JOIN: { actions: 'toOverlay' },
    SEND: { actions: 'toOverlay' },
    CONNECT_FAILED: { actions: 'toOverlay' },
    ...Object.fromEntries(TO_SUPERVISOR.map((type) => [type, { actions: 'toSupervisor' }])),
  },
  states: {
    joining: {
      on: { 'OVERLAY.JOINED': 'ready' },
    },
    ready: {
      on: { 'OVERLAY.LINKS': { guard: 'tooFewContacts', target: 'degraded', actions: 'countLinks' } },
      initial: 'idle',
      states: {
        idle: { on: { 'OVERLAY.REFRESHING': 'refreshing' } },
        refreshing: { on: { 'OVERLAY.REFRESHED': 'idle' } },
      },
    },
    degraded: {
      on: { 'OVERLAY.LINKS': { guard: 'enoughContacts', target: 'ready', actions: 'countLinks' } },
    },
  },
});
