/** The browser build's `nativeCollector.ts`: a browser frees closed connections itself, so there is nothing to collect. */

/** Nothing to do in a browser. */
export async function collectClosedConnections(): Promise<void> {}

/** Nothing to do in a browser. */
export function connectionClosed(): void {}
