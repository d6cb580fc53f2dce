/**
 * Delivery receipts: a message sent with the receipt flag is answered by one receipt record saying
 * whether the far side's node took it. The channel is ordered, so receipts come back in the order the
 * messages went out, and a queue of waiting senders needs no message ids.
 */
import { P2PError } from '../errors.js';

/** What a receipt says about the message it answers (its one-byte payload). */
export const ReceiptStatus = {
  /** Handed to the far side's `data$` (or kept for its next subscriber). */
  Delivered: 1,
  /** Over the far side's `maxMessageSize`. */
  TooLarge: 2,
  /** Flagged as text but not valid UTF-8. */
  NotUtf8: 3,
  /** Carrying flags the far side does not know. */
  UnknownFlags: 4,
  /** Nobody read the far side's `data$` and its unread buffer was full. */
  Unread: 5,
} as const;
export type ReceiptStatus = (typeof ReceiptStatus)[keyof typeof ReceiptStatus];

const WHY: Record<number, string> = {
  [ReceiptStatus.TooLarge]: "it is over the receiver's maxMessageSize",
  [ReceiptStatus.NotUtf8]: 'its text is not valid UTF-8',
  [ReceiptStatus.UnknownFlags]: 'it carries flags the receiver does not know',
  [ReceiptStatus.Unread]: "nobody reads the receiver's data$ and its unread buffer is full",
};

/** Why a message was not delivered (worded for both ends: the sender's error, the receiver's log). */
export function receiptReason(status: number): string {
  return WHY[status] ?? `status ${status}`;
}

/** The payload of a receipt record. */
export function receiptPayload(status: ReceiptStatus): Uint8Array {
  return Uint8Array.of(status);
}

/**
 * Senders waiting for their receipts, oldest first.
 *
 * @example
 * ```ts
 * const waiting = new PendingReceipts();
 * const delivered = new Promise<void>((resolve, reject) => waiting.add(resolve, reject));
 * waiting.settle(receiptPayload(ReceiptStatus.Delivered)); // resolves the oldest
 * ```
 */
export class PendingReceipts {
  #waiting: { resolve: () => void; reject: (err: P2PError) => void }[] = [];

  add(resolve: () => void, reject: (err: P2PError) => void): void {
    this.#waiting.push({ resolve, reject });
  }

  /** Settles the oldest waiting sender with what `payload` says; a receipt nobody waits for is ignored. */
  settle(payload: Uint8Array): void {
    const oldest = this.#waiting.shift();
    if (!oldest) return;
    const status = payload[0]!;
    if (status === ReceiptStatus.Delivered) oldest.resolve();
    else oldest.reject(new P2PError('ERR_NOT_DELIVERED', `the peer dropped the message: ${receiptReason(status)}`));
  }

  /** Rejects everyone still waiting (the link closed before their receipts came). */
  rejectAll(reason: P2PError): void {
    for (const waiting of this.#waiting.splice(0)) waiting.reject(reason);
  }
}
