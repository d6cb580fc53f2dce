import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { turnCredentials } from '../src/server/turnCredentials.js';
import { isIceServerGrants, isTurnUrl, MAX_ICE_SERVER_GRANTS } from '../src/wire/protocol.js';

/** Node A of the docs/protocol.md test vectors. */
const NODE_A = '34750f98bd59fcfc946da45aaabe933be154a4b5094e1c4abf42866505f3c97e';

describe('turnCredentials', () => {
  it('matches the known answer in docs/protocol.md (computed with openssl dgst -sha1 -hmac)', () => {
    expect(turnCredentials('north-lab-secret', NODE_A, 1_700_086_400)).toEqual({
      username: `1700086400:${NODE_A}`,
      credential: 'h9XO8EnAPGqnDtpkhQ6kHskCVGA=',
    });
  });

  it('is coturn use-auth-secret: base64(HMAC-SHA1(secret, "<expiry>:<user>")), secret as UTF-8', () => {
    for (const [secret, user, expiresAt] of [
      ['s', 'u', 1],
      ['ünïcode secret ✓', 'b'.repeat(64), 4_102_444_800],
      ['x'.repeat(200), 'user:with:colons', 1_700_000_000],
    ] as const) {
      const username = `${expiresAt}:${user}`;
      const expected = createHmac('sha1', Buffer.from(secret, 'utf8')).update(Buffer.from(username, 'utf8')).digest('base64');
      expect(turnCredentials(secret, user, expiresAt)).toEqual({ username, credential: expected });
    }
  });
});

describe('iceServers in a register ack', () => {
  const grant = { urls: ['turn:relay.example:3478', 'turns:[2001:db8::1]:5349?transport=tcp'], username: `1:${NODE_A}`, credential: 'c2VjcmV0' };

  it('accepts up to four well-formed TURN servers, and none', () => {
    expect(isIceServerGrants([])).toBe(true);
    expect(isIceServerGrants([grant])).toBe(true);
    expect(isIceServerGrants(Array.from({ length: MAX_ICE_SERVER_GRANTS }, () => grant))).toBe(true);
  });

  it('refuses anything else as a whole', () => {
    const malformed: unknown[] = [
      null,
      'turn:relay.example:3478',
      {},
      Array.from({ length: MAX_ICE_SERVER_GRANTS + 1 }, () => grant),
      [grant, null],
      [{ ...grant, urls: 'turn:relay.example:3478' }],
      [{ ...grant, urls: [] }],
      [{ ...grant, urls: Array.from({ length: 9 }, () => 'turn:relay.example') }],
      [{ ...grant, urls: ['stun:relay.example:3478'] }],
      [{ ...grant, username: '' }],
      [{ ...grant, username: 'u'.repeat(257) }],
      [{ ...grant, credential: 42 }],
      [{ urls: grant.urls, username: grant.username }],
    ];
    for (const value of malformed) expect(isIceServerGrants(value), JSON.stringify(value)?.slice(0, 80)).toBe(false);
  });

  it('takes only TURN URLs libwebrtc can parse', () => {
    for (const url of ['turn:10.0.0.1', 'turn:relay.example:3478?transport=udp', 'turns:relay.example:443', 'turn:[::1]:65535']) {
      expect(isTurnUrl(url), url).toBe(true);
    }
    // Port 0 or above 65535 makes RTCPeerConnection throw "ICE server parse failed" for every connection.
    for (const url of ['turn:', 'turn:h:0', 'turn:h:65536', 'turn:a b', 'turn:h?transport=sctp', 'http://h', 'turn:h/x', `turn:${'h'.repeat(260)}`, 42]) {
      expect(isTurnUrl(url), String(url)).toBe(false);
    }
  });
});
