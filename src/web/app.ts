/**
 * The web app (`p2p-node signal --web`, or the server `npm start` embeds): a browser tab as a node of
 * its own, meeting peers through the server it was loaded from. Pick a peer by id, chat, drop files,
 * watch each peer's state, route and RTT, and this tab's actors (`#inspector`).
 *
 * URL parameters: `loopback` keeps candidates to 127.0.0.1/::1 (one machine, tests); `accept`
 * accepts file offers without asking; `stun=URL[,URL…]` gives STUN servers (across NATs).
 */
import { createNode, leaseBrowserIdentity, loopbackOnly, type IncomingFile, type P2PNode, type TransferProgress, type Transition } from '../browser.js';
import { addMessage, byId, renderOffer, renderPeers, renderTransfer, renderTransition, short } from './view.js';

const params = new URLSearchParams(location.search);
/** Peers this origin's tabs connected to, reconnected after a reload. */
const KNOWN_PEERS_KEY = 'p2p-dht-node/known-peers';

/** Shows a failure until the user clicks it away. */
function showError(err: unknown): void {
  const box = byId('error');
  box.onclick = () => (box.hidden = true);
  box.title = 'click to dismiss';
  const { code, message } = err as { code?: string; message?: string };
  box.textContent = code ? `${code}: ${message}` : String(message ?? err);
  box.hidden = false;
}

function knownPeers(): string[] {
  try {
    const list: unknown = JSON.parse(localStorage.getItem(KNOWN_PEERS_KEY) ?? '[]');
    return Array.isArray(list) ? list.filter((id): id is string => typeof id === 'string') : [];
  } catch {
    return [];
  }
}

function remember(id: string): void {
  const peers = knownPeers().filter((known) => known !== id);
  localStorage.setItem(KNOWN_PEERS_KEY, JSON.stringify([id, ...peers].slice(0, 16)));
}

/** The peer a message or file goes to: the selected one, else the only connected one. */
function target(node: P2PNode, selected: string | undefined): string {
  if (selected) return selected;
  const connected = node.peers().filter((p) => p.state === 'connected');
  if (connected.length === 1) return connected[0]!.id;
  throw new Error(connected.length === 0 ? 'connect to a peer first' : 'pick a peer in the list first');
}

/** Rate of each transfer since its first step, for the progress lines. */
function rates(): (step: TransferProgress) => number | undefined {
  const first = new Map<string, { at: number; bytes: number }>();
  return (step) => {
    const key = `${step.id}-${step.direction}`;
    const start = first.get(key) ?? { at: step.at, bytes: step.bytes };
    first.set(key, start);
    const seconds = (step.at - start.at) / 1000;
    return seconds > 0.2 ? (step.bytes - start.bytes) / seconds : undefined;
  };
}

function offerFile(offer: IncomingFile): void {
  const auto = params.has('accept') || byId<HTMLInputElement>('auto-accept').checked;
  // Failures reach transfers$, which shows them.
  const accept = (): void => void offer.accept().catch(() => {});
  if (auto) return accept();
  renderOffer(offer.from, offer.name, offer.size, (yes) => (yes ? accept() : offer.decline()));
}

async function main(): Promise<void> {
  const { identity } = await leaseBrowserIdentity();
  byId('me').textContent = identity.nodeId;
  byId('copy').addEventListener('click', () => void navigator.clipboard?.writeText(identity.nodeId));
  const stun = params.get('stun')?.split(',').filter(Boolean) ?? [];
  const node = createNode({
    signalingUrl: location.origin,
    identity,
    reconnect: true,
    dht: true,
    ...(stun.length > 0 ? { iceServers: [{ urls: stun }] } : {}),
    ...(params.has('loopback') ? { candidateFilter: loopbackOnly } : {}),
  });
  // For the page's console and for tests: the node itself.
  (globalThis as { p2p?: P2PNode }).p2p = node;

  let selected: string | undefined;
  const status = byId('status');
  const states = new Map<string, Transition>();
  node.transitions$.subscribe((t) => {
    renderTransition(t, states);
    if (t.actor === 'signaling') {
      // `online.registered` → `registered`: the innermost state says it.
      const state = t.to.slice(t.to.lastIndexOf('.') + 1);
      status.textContent = state;
      status.className = `status ${state}`;
    }
  });
  node.peers$.subscribe((peers) => renderPeers(peers, selected));
  node.peerEvents$.subscribe((event) => event.type === 'connected' && remember(event.id));
  node.data$.subscribe(({ from, data }) => addMessage('in', from, typeof data === 'string' ? data : `(${data.length} bytes)`));
  const rateOf = rates();
  node.transfers$.subscribe((step) => renderTransfer(step, rateOf(step)));
  node.files$.subscribe(offerFile);

  byId('peers').addEventListener('click', (e) => {
    const row = (e.target as HTMLElement).closest<HTMLElement>('tr[data-peer]');
    if (!row) return;
    selected = selected === row.dataset.peer ? undefined : row.dataset.peer;
    byId('target').textContent = selected ? short(selected) : 'every connected peer';
    renderPeers(node.peers(), selected);
  });
  byId('connect').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = byId<HTMLInputElement>('peer-id');
    const id = input.value.trim().toLowerCase();
    node.connectToNode(id).then(() => (input.value = ''), showError);
  });
  const topics: string[] = [];
  const found = new Set<string>();
  const showTopics = (): void => {
    byId('topics').textContent = `joined: ${topics.join(', ')}${found.size ? `; found: ${[...found].map(short).join(', ')}` : ''}`;
    byId('topics').hidden = false;
  };
  // Every node found under a topic this tab joined: connected once (connecting again is a no-op).
  node.discover$.subscribe(({ id }) => {
    found.add(id);
    showTopics();
    node.connectToNode(id).catch(showError);
  });
  byId('join').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = byId<HTMLInputElement>('topic');
    const topic = input.value.trim();
    node.join(topic).then(() => {
      input.value = '';
      topics.push(topic);
      showTopics();
    }, showError);
  });
  byId('say').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = byId<HTMLInputElement>('text');
    const text = input.value;
    if (text === '') return;
    const to = selected ?? node.peers().filter((p) => p.state === 'connected').map((p) => p.id);
    const sent = typeof to === 'string' ? node.send(to, text) : node.sendData(text);
    sent.then(() => {
      input.value = '';
      for (const peer of typeof to === 'string' ? [to] : to) addMessage('out', peer, text);
    }, showError);
  });
  const sendFiles = (files: FileList | null | undefined): void => {
    for (const file of files ?? []) {
      try {
        node.sendFile(target(node, selected), file).catch(showError);
      } catch (err) {
        showError(err);
      }
    }
  };
  const picker = byId<HTMLInputElement>('file');
  picker.addEventListener('change', () => {
    sendFiles(picker.files);
    picker.value = '';
  });
  const drop = byId('drop');
  drop.addEventListener('dragover', (e) => (e.preventDefault(), drop.classList.add('over')));
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    sendFiles(e.dataTransfer?.files);
  });
  const showInspector = (): void => void (byId('inspector').hidden = location.hash !== '#inspector');
  window.addEventListener('hashchange', showInspector);
  showInspector();

  await node.start();
  for (const id of knownPeers()) node.connectToNode(id).catch(() => {});
}

main().catch((err: unknown) => {
  byId('status').textContent = 'failed';
  byId('status').className = 'status failed';
  showError(err);
});
