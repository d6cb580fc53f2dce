/**
 * p2p-dht-node: nodes that find each other through a signaling server and then talk directly over
 * signed, encrypted WebRTC data channels. Importing this module has no side effects.
 */
export { createNode, closeError, P2PNode } from './node.js';
export type { ConnectOptions, NodeSnapshot, PeerEvent, PeerInfo, Transition } from './node.js';
export { DEFAULT_TIMEOUTS, type InspectOptions, type NodeOptions, type NodeTimeouts } from './options.js';
export { machineChart, type MachineChart, type ChartState, type ChartTransition } from './charts/chart.js';
export { toMermaid } from './charts/mermaid.js';
export { chartSvg } from './charts/svg.js';
export { P2PError, type ErrorCode } from './errors.js';
export { silentLogger, type Logger } from './log.js';
export { createSignalingServer } from './services/signalingServer.js';
export type { SignalingServer, SignalingServerOptions } from './services/signalingServer.js';
export type { RejectReason, SignalingMetrics } from './services/serverMetrics.js';
export {
  defaultIdentityPath,
  generateIdentity,
  identityFromPem,
  isNodeId,
  loadOrCreateIdentity,
  nodeIdOf,
  type Identity,
} from './services/identity.js';
export { loopbackOnly, type CandidateFilter, type CandidateInfo } from './services/candidates.js';
export type { DataMessage } from './services/dataPlane.js';
export type { RouteInfo } from './services/fingerprint.js';
export type { IceServer } from './services/webrtcTransport.js';
export { nodeMachine, peerActorId, type NodeInput } from './machines/node.machine.js';
export {
  peerConnectionMachine,
  type CloseReason,
  type PeerInput,
  type PeerOutput,
  type PeerTimeouts,
} from './machines/peerConnection.machine.js';
export { signalingMachine, backoffDelay, type SignalingInput } from './machines/signaling.machine.js';
export { webrtcTransport } from './services/webrtcTransport.js';
export { socketClient } from './services/socketClient.js';
