/**
 * The baseline of bench section 9's tab → tab row: two Chromium tabs joined by bare RTCPeerConnections
 * and one data channel (no library), signaled by the bench through the pages, sending 64 KiB messages
 * under the same 4 MiB buffer mark as our link. Chromium's own data channel is the ceiling for tabs.
 */
import type { Browser, Page } from 'playwright-core';

/** What the pages hold (this file is compiled without DOM types, so it names only that). */
interface RawGlobals {
  pc: { addIceCandidate(c: unknown): Promise<void>; setRemoteDescription(d: unknown): Promise<void>; setLocalDescription(d?: unknown): Promise<void>; createOffer(): Promise<unknown>; createAnswer(): Promise<unknown>; localDescription: unknown; close(): void };
  channel: { send(data: Uint8Array): void; bufferedAmount: number; readyState: string; binaryType: string; onopen: () => void; onmessage: (e: { data: ArrayBuffer }) => void };
  opened: Promise<void>;
  relay(candidate: string): Promise<void>;
}
type RawPage = typeof globalThis & RawGlobals & { RTCPeerConnection: new () => RawGlobals['pc'] & { onicecandidate: unknown; ondatachannel: unknown; createDataChannel(label: string): RawGlobals['channel'] } };

/** Two tabs with an open data channel from `sender` to `receiver`. */
export async function rawTabs(browser: Browser): Promise<{ sender: Page; receiver: Page; close(): Promise<void> }> {
  const [sender, receiver] = [await browser.newPage(), await browser.newPage()];
  await sender.exposeFunction('relay', (c: string) => receiver.evaluate((c) => (globalThis as RawPage).pc.addIceCandidate(JSON.parse(c)), c));
  await receiver.exposeFunction('relay', (c: string) => sender.evaluate((c) => (globalThis as RawPage).pc.addIceCandidate(JSON.parse(c)), c));
  const offer = await sender.evaluate(async () => {
    const g = globalThis as RawPage;
    const pc = new g.RTCPeerConnection();
    g.pc = pc;
    pc.onicecandidate = (e: { candidate: unknown }) => void (e.candidate && g.relay(JSON.stringify(e.candidate)));
    g.channel = pc.createDataChannel('raw');
    g.opened = new Promise<void>((resolve) => (g.channel.onopen = resolve));
    await pc.setLocalDescription(await pc.createOffer());
    return JSON.stringify(pc.localDescription);
  });
  const answer = await receiver.evaluate(async (sdp) => {
    const g = globalThis as RawPage;
    const pc = new g.RTCPeerConnection();
    g.pc = pc;
    pc.onicecandidate = (e: { candidate: unknown }) => void (e.candidate && g.relay(JSON.stringify(e.candidate)));
    g.opened = new Promise<void>((resolve) => {
      pc.ondatachannel = (e: { channel: RawGlobals['channel'] }) => {
        g.channel = e.channel;
        g.channel.binaryType = 'arraybuffer';
        resolve();
      };
    });
    await pc.setRemoteDescription(JSON.parse(sdp));
    await pc.setLocalDescription(await pc.createAnswer());
    return JSON.stringify(pc.localDescription);
  }, offer);
  await sender.evaluate(async (sdp) => {
    const g = globalThis as RawPage;
    await g.pc.setRemoteDescription(JSON.parse(sdp));
    await g.opened;
  }, answer);
  await receiver.evaluate(() => (globalThis as RawPage).opened);
  return { sender, receiver, close: async () => void (await Promise.all([sender.close(), receiver.close()])) };
}

/** `count` messages of `size` bytes from one raw tab to the other; resolves once all arrived. */
export async function rawTransfer(tabs: { sender: Page; receiver: Page }, size: number, count: number): Promise<void> {
  const received = tabs.receiver.evaluate(
    (total) =>
      new Promise<void>((resolve) => {
        let seen = 0;
        (globalThis as RawPage).channel.onmessage = (e) => {
          seen += e.data.byteLength;
          if (seen >= total) resolve();
        };
      }),
    size * count,
  );
  await tabs.sender.evaluate(
    async ({ size, count }) => {
      const channel = (globalThis as RawPage).channel;
      const message = new Uint8Array(size).fill(7);
      for (let sent = 0; sent < count; ) {
        // The same rule as our link: at most 4 MiB buffered, polled every 2 ms.
        if (channel.bufferedAmount + size > 4 * 1024 * 1024) await new Promise((resolve) => setTimeout(resolve, 2));
        else (channel.send(message), sent++);
      }
    },
    { size, count },
  );
  await received;
}
