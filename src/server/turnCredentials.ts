/**
 * Time-limited TURN credentials in the TURN REST API scheme (draft-uberti-behave-turn-rest), which
 * coturn implements with `use-auth-secret`: the relay and the signaling server share one secret, so
 * the relay can check a credential it never issued and no per-user password is stored anywhere.
 */
import { createHmac } from 'node:crypto';
import type { IceServerGrant } from '../wire/protocol.js';

/** A TURN relay run with coturn's `use-auth-secret` / `static-auth-secret`. */
export interface TurnRestOptions {
  /** The relay's `turn:`/`turns:` URLs, handed to nodes as they are. */
  urls: string[];
  /** coturn's `static-auth-secret`. */
  secret: string;
  /** How long a credential stays valid; default {@link DEFAULT_TURN_TTL_SECONDS}. */
  ttlSeconds?: number;
}

/** A day: long enough that a node registered once keeps a working relay through a long session. */
export const DEFAULT_TURN_TTL_SECONDS = 24 * 60 * 60;

export interface TurnCredentials {
  username: string;
  credential: string;
}

/**
 * Derives the credentials coturn accepts for `user` until `expiresAt`: username `<expiresAt>:<user>`,
 * password base64(HMAC-SHA1(secret, username)). Pure; the caller picks the clock.
 *
 * @param expiresAt Unix time in seconds; coturn refuses the credential after it.
 * @example
 * ```ts
 * const { username, credential } = turnCredentials(secret, nodeId, Math.floor(Date.now() / 1000) + 3600);
 * new RTCPeerConnection({ iceServers: [{ urls: 'turn:relay.example:3478', username, credential }] });
 * ```
 */
export function turnCredentials(secret: string, user: string, expiresAt: number): TurnCredentials {
  // coturn splits the username at the first ':' (its default rest-api-separator) and reads the expiry before it.
  const username = `${expiresAt}:${user}`;
  return { username, credential: createHmac('sha1', secret).update(username).digest('base64') };
}

/** Credentials for `nodeId` from now on, so a node's relay access lapses `ttlSeconds` after its last registration. */
export function turnGrant(turn: Required<TurnRestOptions>, nodeId: string): IceServerGrant {
  const expiresAt = Math.floor(Date.now() / 1000) + turn.ttlSeconds;
  return { urls: turn.urls, ...turnCredentials(turn.secret, nodeId, expiresAt) };
}
