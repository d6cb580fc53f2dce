/** The web app's DOM: small helpers and one renderer per panel, with no state of their own. */
import type { PeerInfo, TransferProgress, Transition } from '../browser.js';

/** The element with `id`; throws if the page lacks it (a broken build, not a user error). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
}

/** A new element with text and attributes. */
export function el(tag: string, text = '', attributes: Record<string, string> = {}): HTMLElement {
  const element = document.createElement(tag);
  element.textContent = text;
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  return element;
}

export const short = (id: string): string => `${id.slice(0, 8)}…`;

/** Bytes as B, KB, MB or GB (powers of 1000, as rates are read). */
export function bytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const [value, unit] = n < 1e6 ? [n / 1e3, 'KB'] : n < 1e9 ? [n / 1e6, 'MB'] : [n / 1e9, 'GB'];
  return `${value.toFixed(value < 10 ? 1 : 0)} ${unit}`;
}

/** The peers table; the row of `selected` is marked. */
export function renderPeers(peers: readonly PeerInfo[], selected: string | undefined): void {
  const rows = peers.map((peer) => {
    const row = el('tr', '', { 'data-peer': peer.id, title: peer.id });
    if (peer.id === selected) row.className = 'selected';
    row.append(
      el('td', short(peer.id)),
      el('td', peer.state, { class: `state-${peer.state}` }),
      el('td', peer.route ?? '–'),
      el('td', peer.rttMs === undefined ? '–' : `${peer.rttMs.toFixed(1)} ms`),
      el('td', `${bytes(peer.bytesIn)} / ${bytes(peer.bytesOut)}`),
    );
    return row;
  });
  byId('peers').querySelector('tbody')!.replaceChildren(...rows);
  byId('no-peers').hidden = peers.length > 0;
}

/** Appends a chat line and keeps the newest in view. */
export function addMessage(direction: 'in' | 'out', peer: string, text: string): void {
  const list = byId('messages');
  const line = el('li', '', { class: direction });
  line.append(el('span', direction === 'in' ? `${short(peer)}:` : `→ ${short(peer)}`, { class: 'who' }), document.createTextNode(text));
  list.append(line);
  list.scrollTop = list.scrollHeight;
}

/** The line of one transfer: created on its first step, updated on each one after. */
export function renderTransfer(step: TransferProgress, rate: number | undefined): void {
  const id = `transfer-${step.id}-${step.direction}`;
  let item = document.getElementById(id);
  if (!item) {
    item = el('li', '', { id, 'data-direction': step.direction });
    byId('transfers').prepend(item);
  }
  const arrow = step.direction === 'out' ? `→ ${short(step.peer)}` : `← ${short(step.peer)}`;
  const label = el('div', `${arrow} ${step.name}: ${bytes(step.bytes)} of ${bytes(step.size)}${rate ? `, ${bytes(rate)}/s` : ''} (${step.state})`);
  const parts: HTMLElement[] = [label];
  if (step.state === 'failed') {
    label.className = 'failed';
    label.textContent += ` ${step.error?.code ?? ''}: ${step.error?.message ?? ''}`;
  } else if (step.state === 'done' && step.direction === 'in' && step.path) {
    parts.push(el('a', `save ${step.name}`, { href: step.path, download: step.name, class: 'saved' }));
  } else if (step.state !== 'done') {
    parts.push(el('progress', '', { max: String(step.size || 1), value: String(step.bytes) }));
  }
  item.dataset.state = step.state;
  item.replaceChildren(...parts);
}

/** An offer waiting for the user: the buttons answer it. */
export function renderOffer(from: string, name: string, size: number, answer: (accept: boolean) => void): void {
  const item = el('li', `← ${short(from)} offers ${name} (${bytes(size)}) `, { class: 'offer' });
  const accept = el('button', 'Accept', { type: 'button' });
  const decline = el('button', 'Decline', { type: 'button' });
  const done = (yes: boolean) => () => {
    item.remove();
    answer(yes);
  };
  accept.addEventListener('click', done(true));
  decline.addEventListener('click', done(false));
  item.append(accept, ' ', decline);
  byId('transfers').prepend(item);
}

/** Newest transitions kept in the inspector panel. */
const TRANSITIONS_SHOWN = 200;

/** The inspector panel: each actor's current state, and the transitions as they happen. */
export function renderTransition(t: Transition, states: Map<string, Transition>): void {
  states.set(t.actor, t);
  const rows = [...states.values()].map((s) => {
    const row = el('tr');
    row.append(el('td', s.actor.startsWith('peer.') ? `peer.${short(s.actor.slice(5))}` : s.actor), el('td', s.to), el('td', new Date(s.at).toLocaleTimeString()));
    return row;
  });
  byId('actors').querySelector('tbody')!.replaceChildren(...rows);
  const list = byId('transitions');
  list.prepend(el('li', `${t.actor.slice(0, 13)} ${t.from || '·'} → ${t.to} (${t.event})`));
  while (list.children.length > TRANSITIONS_SHOWN) list.lastElementChild!.remove();
}
