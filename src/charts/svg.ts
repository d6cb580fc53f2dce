/**
 * Renders a chart as a standalone SVG for pages that highlight a running actor's states.
 */
import { chartStates, type MachineChart } from './chart.js';
import { layoutChart, type PlacedEdge, type PlacedLoop, type PlacedState, type Point, type TextLine } from './layout.js';

const FONT = 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';
const LINE_COLOR = '#8792a2';

/**
 * Defaults for the classes a host page toggles. `:where()` gives them no specificity, so any rule the
 * page writes wins, as do these over the presentation attributes below.
 */
const STYLE = [
  ':where(.machine-chart .state.active)>rect{fill:#fff4d6;stroke:#c98a00;stroke-width:2px}',
  ':where(.machine-chart .transition.active)>path{stroke:#c98a00;stroke-width:2px}',
].join('');

/**
 * The chart as SVG: scalable (a `viewBox`, no fixed size), self-contained, and shaped for a host
 * page to restyle. Each state is a `<g class="state" data-state="<state id>">` (plus `compound`,
 * `final`, `initial` as they apply) whose `<rect>`s are its direct children, so a page highlights
 * states by adding `active` to `[data-state="…"]`; each transition is a
 * `<g class="transition" data-transition="<key>">` holding its path(s) and label. Transitions that
 * stay put are listed inside their state, each with a small loop arrow.
 *
 * @example
 * ```ts
 * container.innerHTML = chartSvg(machineChart(peerConnectionMachine));
 * container.querySelector('[data-state="peer.connecting"]')?.classList.add('active');
 * ```
 */
export function chartSvg(chart: MachineChart): string {
  const { width, height, states, edges, loops, initials } = layoutChart(chart);
  const arrow = `chart-${chart.id.replace(/\W/g, '_')}-arrow`;
  const markerEnd = `marker-end="url(#${arrow})"`;
  const smallMarkerEnd = `marker-end="url(#${arrow}-small)"`;
  const initialIds = new Set(chartStates(chart).flatMap((s) => (s.initial ? [s.initial] : [])));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="machine-chart" data-machine="${xml(chart.id)}" viewBox="0 0 ${num(width)} ${num(height)}" role="img" aria-label="${xml(chart.id)} statechart" font-family="${FONT}" font-size="12">`,
    `<style>${STYLE}</style>`,
    `<defs>${marker(arrow, 7)}${marker(`${arrow}-small`, 4)}</defs>`,
    ...states.map((placed) => stateSvg(placed, initialIds.has(placed.state.id))),
    ...initials.map((route) => initialSvg(route, markerEnd)),
    ...edges.map((edge) => edgeSvg(edge, markerEnd)),
    ...loops.map((loop) => loopSvg(loop, smallMarkerEnd)),
    '</svg>',
    '',
  ].join('\n');
}

function marker(id: string, size: number): string {
  return `<marker id="${id}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="${size}" markerHeight="${size}" orient="auto"><path d="M0,0L10,5L0,10z" fill="${LINE_COLOR}"/></marker>`;
}

function stateSvg({ state, box, text }: PlacedState, initial: boolean): string {
  const compound = state.children.length > 0;
  const classes = ['state', compound && 'compound', state.kind === 'final' && 'final', initial && 'initial'];
  const rect = (inset: number) =>
    `<rect x="${num(box.x + inset)}" y="${num(box.y + inset)}" width="${num(box.width - 2 * inset)}" height="${num(box.height - 2 * inset)}" rx="${6 - inset / 2}" fill="${compound ? '#f7f8fa' : '#fff'}" stroke="${LINE_COLOR}"/>`;
  // A final state gets UML's double border.
  const rects = state.kind === 'final' ? [rect(0), rect(3)] : [rect(0)];
  return `<g class="${classes.filter(Boolean).join(' ')}" data-state="${xml(state.id)}">${rects.join('')}${textSvg(text)}</g>`;
}

/** Labels get a white halo so they stay legible where lines cross them. */
const HALO = ' paint-order="stroke" stroke="#fff" stroke-width="3" stroke-linejoin="round"';

function edgeSvg({ transition, routes, text }: PlacedEdge, markerEnd: string): string {
  return transitionSvg(transition.key, routes.map((route) => line(curve(route), markerEnd)).join(''), textSvg(text, HALO));
}

/** A three-quarter circle ending in an arrowhead: the transition leaves its state and comes back unchanged. */
function loopSvg({ transition, loop: { x, y }, text }: PlacedLoop, markerEnd: string): string {
  const path = line(`M${num(x + 5)},${num(y)}A5,5 0 1 1 ${num(x)},${num(y - 5)}`, markerEnd);
  return transitionSvg(transition.key, path, textSvg(text));
}

function transitionSvg(key: string, paths: string, label: string): string {
  return `<g class="transition" data-transition="${xml(key)}">${paths}${label}</g>`;
}

function line(d: string, markerEnd: string): string {
  return `<path d="${d}" fill="none" stroke="${LINE_COLOR}" ${markerEnd}/>`;
}

/** UML's initial pseudostate: a dot with an arrow to the state entered first. */
function initialSvg(route: Point[], markerEnd: string): string {
  const [start] = route;
  const dot = start ? `<circle cx="${num(start.x)}" cy="${num(start.y)}" r="3" fill="${LINE_COLOR}"/>` : '';
  return `<g class="initial-arrow">${dot}${line(curve(route), markerEnd)}</g>`;
}

const ROLE_STYLE: Record<TextLine['role'], string> = {
  name: 'font-weight="bold"',
  detail: 'fill="#57606a"',
  label: 'fill="#24292f"',
};

function textSvg(lines: readonly TextLine[], attributes = ''): string {
  const spans = lines.map(
    (l) => `<tspan x="${num(l.x)}" y="${num(l.y)}" text-anchor="${l.anchor}" ${ROLE_STYLE[l.role]}>${xml(l.text)}</tspan>`,
  );
  return `<text${attributes}>${spans.join('')}</text>`;
}

/**
 * Dagre's route as straight runs with rounded corners: unlike a spline it never swings wide of the
 * points, so it passes by the label dagre placed on it.
 */
function curve(points: readonly Point[]): string {
  const [first, ...rest] = points;
  if (!first) return '';
  const corners = rest.slice(0, -1).map((corner, i) => {
    const [before, after] = [points[i]!, points[i + 2]!];
    const radius = Math.min(CORNER_RADIUS, distance(before, corner) / 2, distance(corner, after) / 2);
    return `L${xy(toward(corner, before, radius))}Q${xy(corner)} ${xy(toward(corner, after, radius))}`;
  });
  const last = rest.at(-1);
  return `M${xy(first)}${corners.join('')}${last ? `L${xy(last)}` : ''}`;
}

const CORNER_RADIUS = 16;

const distance = (a: Point, b: Point) => Math.hypot(b.x - a.x, b.y - a.y);

/** The point `length` from `from` toward `to`. */
function toward(from: Point, to: Point, length: number): Point {
  const ratio = length / (distance(from, to) || 1);
  return { x: from.x + (to.x - from.x) * ratio, y: from.y + (to.y - from.y) * ratio };
}

const xy = (p: Point) => `${num(p.x)},${num(p.y)}`;

/** One decimal is well under a pixel and keeps the markup short. */
const num = (n: number) => String(Math.round(n * 10) / 10);

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };

function xml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ENTITIES[c]!);
}
