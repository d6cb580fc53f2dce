/**
 * Signaling server limits for benches: every bench node connects from 127.0.0.1, so the per-address
 * defaults (64 connections, 32 handshakes at once, then 16/s) would refuse the crowds they start.
 */
export const LOOPBACK_CROWD = { maxConnectionsPerAddress: 1000, handshakeRateLimit: { perSecond: 1000, burst: 1000 } };
