/** The browser build's `wrtc.ts`: none, so simple-peer uses the browser's own RTCPeerConnection. */

/** Undefined: simple-peer falls back to the page's WebRTC globals. */
export function loadWrtc(): unknown {
  return undefined;
}
