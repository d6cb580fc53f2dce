import type { DataPlane } from '../data/dataPlane.js';
import type { LinkOptions } from '../data/linkOptions.js';
import type { Logger } from '../log.js';
import type { NodeInput } from '../machines/node.machine.js';
import type { Overlay } from '../services/overlay.js';
import type { Envelopes } from '../wire/envelope.js';
import type { Identity } from '../wire/keys.js';
import { DEFAULT_TIMEOUTS, signalingUrls, type NodeDhtOptions, type NodeOptions } from './options.js';

/** What {@link supervisorInput} needs besides the options: the parts the node itself holds on to. */
export interface SupervisorParts {
  identity: Identity;
  dataPlane: DataPlane;
  logger: Logger;
  maxPeers: number;
  maxNegotiations: number;
  /** Shared by the server and overlay paths, so a replay is caught whichever way it comes. */
  envelopes: Envelopes;
  /** The DHT and its settings, when the node runs one. */
  dht?: { overlay: Overlay; settings: Required<NodeDhtOptions> };
}

/**
 * The supervisor's input for a node created with `options` (validated): every default filled in.
 *
 * @example
 * ```ts
 * const parts = { identity, dataPlane, logger, maxPeers: 200, maxNegotiations: 10, envelopes: new Envelopes(identity) };
 * const actor = createActor(nodeMachine, { input: supervisorInput(options, parts) });
 * ```
 */
export function supervisorInput(options: NodeOptions, parts: SupervisorParts): NodeInput {
  const { identity, dataPlane, logger, maxPeers, maxNegotiations, envelopes, dht } = parts;
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const link: LinkOptions = { maxMessageSize: options.maxMessageSize, heartbeat: options.heartbeat };
  return {
    localId: identity.nodeId,
    maxPeers,
    // Counts every negotiating peer, and our own attempts fill at most half of it: offers from other
    // nodes always find maxNegotiations places, and at most 3 × maxNegotiations negotiations (~200
    // file descriptors each) run at once.
    maxNegotiating: 2 * maxNegotiations,
    signaling: {
      urls: signalingUrls(options.signalingUrl),
      identity,
      envelopes,
      dht: dht !== undefined,
      logger,
      timeouts: { connect: timeouts.signalingConnect, register: timeouts.register },
      backoff: { initialMs: 250, maxMs: 30_000, jitter: 0.3, ...options.backoff },
      initialAttempts: options.signalingAttempts ?? 3,
      queueLimit: 1024,
    },
    peerTimeouts: { offer: timeouts.offer, answer: timeouts.answer, ice: timeouts.ice, verify: timeouts.verify, flush: timeouts.flush },
    ...(dht ? { dht: { overlay: dht.overlay, minContacts: dht.settings.minContacts } } : {}),
    transport: {
      iceServers: options.iceServers ?? [],
      candidateFilter: options.candidateFilter,
      dataPlane,
      link,
      logger,
    },
  };
}
