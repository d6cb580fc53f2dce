/** The browser build's `udpBuffers.ts`: a page cannot see the kernel's settings, and its browser sizes its own sockets. */

/** The buffer size the Node build recommends; unused in a browser. */
export const RECOMMENDED_UDP_RECEIVE_BUFFER = 4 * 1024 * 1024;

/** Nothing to read in a browser. */
export function udpReceiveBuffers(): undefined {
  return undefined;
}

/** Nothing to warn of in a browser. */
export function warnOfSmallUdpBuffers(): boolean {
  return false;
}
