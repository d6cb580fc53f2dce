/**
 * The inspector page: one self-contained HTML document (no scripts, fonts or styles from elsewhere,
 * so it works offline). It draws what `/events` streams: the actor tree, the selected actor's chart
 * with its current states highlighted, and the event log, which is capped and virtualized (only the
 * rows in view exist in the DOM) so a busy node does not slow the page down.
 *
 * `window.inspector` exposes the page's data and the measured update latency, for tests.
 */
const STYLE = `
*{box-sizing:border-box}
body{margin:0;font:13px/1.4 system-ui,sans-serif;color:#1d2430;background:#f6f7f9;height:100vh;display:flex;flex-direction:column}
header{display:flex;gap:16px;align-items:center;padding:8px 14px;background:#1d2430;color:#fff}
header h1{font-size:15px;margin:0;font-weight:600}
header .meta{opacity:.8;font-family:ui-monospace,monospace;font-size:12px}
header button{margin-left:auto}
#status.live{color:#7ee2a8}#status.down{color:#ff9b8e}
main{flex:1;display:grid;grid-template-columns:minmax(260px,340px) 1fr;grid-template-rows:1fr minmax(180px,38vh);gap:8px;padding:8px;min-height:0}
section{background:#fff;border:1px solid #dde1e7;border-radius:6px;display:flex;flex-direction:column;min-height:0;min-width:0}
section h2{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:#5b6575;margin:0;padding:6px 10px;border-bottom:1px solid #eef0f3;display:flex;gap:8px;align-items:center}
#tree-section{grid-row:1/3}
#tree{overflow:auto;flex:1}
.actor{display:flex;gap:6px;align-items:center;padding:3px 10px;cursor:pointer;white-space:nowrap;border-left:3px solid transparent}
.actor:hover{background:#f1f4f8}.actor.selected{background:#e7effc;border-left-color:#3a6fd8}
.actor .name{font-family:ui-monospace,monospace;overflow:hidden;text-overflow:ellipsis}
.badge{font-size:11px;padding:0 6px;border-radius:8px;background:#e8ebf0}
.actor[data-state="connected"] .badge,.actor[data-state="running.online"] .badge,.actor[data-state="online.registered"] .badge{background:#c9f0d8}
.actor[data-status="done"],.actor[data-status="stopped"],.actor[data-status="error"]{opacity:.65}
.actor .reason{font-size:11px;color:#a2402f;overflow:hidden;text-overflow:ellipsis}
#chart-wrap{flex:1;overflow:auto;padding:8px;min-height:0}
.chart{display:none}.chart.shown{display:block}
.chart svg{width:100%;height:auto}
#zoom{margin-left:auto;font-size:11px}
.chart .state rect{fill:#fff;stroke:#8792a2}
.chart .state.compound>rect{fill:#f7f8fa}
.chart .state.active>rect{fill:#ffe7a3;stroke:#c98a00;stroke-width:2}
.chart.ended .state.active>rect{fill:#f3d2cc;stroke:#a2402f}
#caption{font-weight:normal;text-transform:none;letter-spacing:0;color:#1d2430;font-family:ui-monospace,monospace}
#log{flex:1;overflow:auto;position:relative;font-family:ui-monospace,monospace;font-size:12px;min-height:0}
#log-rows{position:absolute;left:0;right:0}
.entry{height:20px;display:grid;grid-template-columns:96px minmax(120px,1.2fr) minmax(160px,2fr) minmax(160px,2fr);gap:8px;padding:0 10px;white-space:nowrap;align-items:center}
.entry span{overflow:hidden;text-overflow:ellipsis}
.entry:nth-child(odd){background:#fafbfc}
.entry .time{color:#7a8494}.entry .same{color:#9aa3b1}
#filter{font:inherit;font-size:12px;padding:1px 6px;margin-left:auto;width:220px}
`;

const SCRIPT = `
const ROW = 20, LOG_MAX = 1000, LATENCY_MAX = 5000;
const $ = (s) => document.querySelector(s);
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => '&#' + c.charCodeAt(0) + ';');
const st = { actors: new Map(), log: [], selected: null, treeDirty: false, logDirty: false, fresh: [], frame: 0, filter: '', natural: false };
window.inspector = { latencies: [], get log() { return st.log; }, get actors() { return [...st.actors.values()]; } };

function schedule() { if (!st.frame) st.frame = requestAnimationFrame(render); }

function apply(u) {
  if (u.type === 'actor') { st.actors.set(u.actor.key, u.actor); st.treeDirty = true; }
  else if (u.type === 'removed') { for (const k of u.keys) st.actors.delete(k); st.treeDirty = true; }
  else if (u.type === 'log') {
    st.log.push(u.entry); st.fresh.push(u.entry.at); st.logDirty = true;
    if (st.log.length > LOG_MAX) st.log.splice(0, st.log.length - LOG_MAX);
  }
}

function connect() {
  const es = new EventSource('/events');
  es.addEventListener('hello', (e) => {
    const d = JSON.parse(e.data);
    $('#charts').innerHTML = Object.entries(d.charts).map(([m, svg]) => '<div class="chart" data-machine="' + esc(m) + '">' + svg + '</div>').join('');
    st.actors = new Map(d.actors.map((a) => [a.key, a])); st.log = d.log;
    st.treeDirty = st.logDirty = true; setStatus('live', 'live'); schedule();
  });
  es.onmessage = (e) => { for (const u of JSON.parse(e.data)) apply(u); schedule(); };
  es.onerror = () => setStatus('down', 'disconnected, retrying…');
}

function setStatus(cls, text) { const s = $('#status'); s.className = cls; s.textContent = text; }

function ordered() {
  const kids = new Map();
  for (const a of st.actors.values()) {
    const p = a.parent && st.actors.has(a.parent) ? a.parent : '';
    if (!kids.has(p)) kids.set(p, []);
    kids.get(p).push(a);
  }
  const out = [];
  const walk = (p, depth) => { for (const a of kids.get(p) ?? []) { out.push([a, depth]); walk(a.key, depth + 1); } };
  walk('', 0);
  return out;
}

function renderTree() {
  const rows = ordered();
  if (!st.actors.has(st.selected)) st.selected = rows[0]?.[0].key ?? null;
  $('#tree').innerHTML = rows.map(([a, depth]) => {
    const short = a.name.length > 22 ? a.name.slice(0, 21) + '…' : a.name;
    const reason = a.reason ? '<span class="reason" title="' + esc(a.detail) + '">' + esc(a.reason) + (a.detail ? ': ' + esc(a.detail) : '') + '</span>' : '';
    return '<div class="actor' + (a.key === st.selected ? ' selected' : '') + '" data-key="' + esc(a.key) + '" data-actor="' + esc(a.name) +
      '" data-state="' + esc(a.state) + '" data-status="' + esc(a.status) + '" style="padding-left:' + (10 + depth * 16) + 'px" title="' + esc(a.name) + '">' +
      '<span class="name">' + esc(short) + '</span><span class="badge">' + esc(a.state) + '</span>' + reason + '</div>';
  }).join('');
  $('#count').textContent = rows.length + ' actors';
  renderChart();
}

function renderChart() {
  const a = st.actors.get(st.selected);
  for (const c of document.querySelectorAll('.chart.shown')) c.classList.remove('shown');
  for (const el of document.querySelectorAll('.chart .active')) el.classList.remove('active');
  if (!a) { $('#caption').textContent = ''; return; }
  const chart = document.querySelector('.chart[data-machine="' + CSS.escape(a.machine) + '"]');
  $('#caption').textContent = a.name + ': ' + a.state + (a.reason ? ' (' + a.reason + ')' : '');
  if (!chart) return;
  chart.classList.add('shown');
  const svg = chart.querySelector('svg');
  // Fitted, a wide chart's labels get small; actual size scrolls instead.
  if (svg) svg.style.width = st.natural ? svg.viewBox.baseVal.width + 'px' : '';
  $('#zoom').textContent = st.natural ? 'fit to panel' : 'actual size';
  chart.classList.toggle('ended', a.status !== 'active');
  for (const id of a.active) for (const el of chart.querySelectorAll('[data-state="' + CSS.escape(id) + '"]')) el.classList.add('active');
}

const time = (at) => new Date(at).toISOString().slice(11, 23);
const eventName = (t) => t.startsWith('xstate.after.') ? 'after ' + t.split('.')[2] : t;

function visibleLog() {
  if (!st.filter) return st.log;
  return st.log.filter((e) => e.actor.includes(st.filter) || e.event.includes(st.filter) || e.to.includes(st.filter));
}

function renderLog() {
  const box = $('#log'), entries = visibleLog();
  const follow = box.scrollTop + box.clientHeight >= box.scrollHeight - ROW * 2;
  $('#log-spacer').style.height = entries.length * ROW + 'px';
  if (follow) box.scrollTop = box.scrollHeight;
  const first = Math.max(0, Math.floor(box.scrollTop / ROW) - 10);
  const last = Math.min(entries.length, first + Math.ceil(box.clientHeight / ROW) + 20);
  const rows = $('#log-rows');
  rows.style.top = first * ROW + 'px';
  rows.innerHTML = entries.slice(first, last).map((e) =>
    '<div class="entry" data-seq="' + e.seq + '"><span class="time">' + time(e.at) + '</span><span title="' + esc(e.actor) + '">' + esc(e.actor) +
    '</span><span title="' + esc(e.event) + '">' + esc(eventName(e.event)) + '</span><span class="' + (e.from === e.to ? 'same' : '') + '">' +
    esc(e.from || '∅') + ' → ' + esc(e.to) + '</span></div>').join('');
  $('#events').textContent = st.log.length + ' events';
}

function render() {
  st.frame = 0;
  if (st.treeDirty) { st.treeDirty = false; renderTree(); }
  if (st.logDirty) { st.logDirty = false; renderLog(); }
  const now = Date.now(), lat = window.inspector.latencies;
  for (const at of st.fresh) lat.push(now - at);
  st.fresh = [];
  if (lat.length > LATENCY_MAX) lat.splice(0, lat.length - LATENCY_MAX);
}

$('#tree').addEventListener('click', (e) => {
  const row = e.target.closest('.actor');
  if (row) { st.selected = row.dataset.key; st.treeDirty = true; schedule(); }
});
$('#log').addEventListener('scroll', () => { st.logDirty = true; schedule(); }, { passive: true });
$('#filter').addEventListener('input', (e) => { st.filter = e.target.value.trim(); st.logDirty = true; schedule(); });
$('#zoom').addEventListener('click', () => { st.natural = !st.natural; renderChart(); });
$('#clear').addEventListener('click', () => fetch('/clear', { method: 'POST', headers: { 'x-inspector': '1' } }));
connect();
`;

/** The whole page, served at `/`. */
export function inspectorPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>p2p-node inspector</title><link rel="icon" href="data:,"><style>${STYLE}</style></head>
<body>
<header><h1>p2p-node inspector</h1><span id="status">connecting…</span><span class="meta" id="count"></span><span class="meta" id="events"></span>
<button id="clear" title="Forget closed peers">Clear closed</button></header>
<main>
<section id="tree-section"><h2>Actors</h2><div id="tree"></div></section>
<section><h2>Chart <span id="caption"></span><button id="zoom">actual size</button></h2><div id="chart-wrap"><div id="charts"></div></div></section>
<section><h2>Events <input id="filter" placeholder="filter: actor, event or state" aria-label="filter events"></h2>
<div id="log"><div id="log-spacer"></div><div id="log-rows"></div></div></section>
</main>
<script>${SCRIPT}</script>
</body></html>`;
}
