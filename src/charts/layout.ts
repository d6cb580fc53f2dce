/**
 * Places a chart's states and transitions on a plane with dagre, measuring text as 12px monospace.
 *
 * A compound state is a dagre cluster holding one extra node, its title: the state's name, details
 * and self-handled transitions. Dagre cannot route edges to clusters, so transitions into a compound
 * state end at its title, and invisible edges from the title to every child keep it on top; the one
 * to the initial child is drawn, as the initial arrow. Transitions from a compound state to states
 * outside it leave from its bottom border, above an invisible exit node that invisible edges from
 * every descendant keep lowest, so their targets lie below the box rather than beside it.
 *
 * Transitions between the same two states share one route and a stacked label: the peer machine has
 * up to five of them between a pair, and one route each made its chart several screens wide.
 *
 * States flow downward in the order the machine defines them: an edge to an earlier state is laid out
 * reversed. Left to itself, dagre breaks cycles wherever its search happens to close them, which can
 * sink a state the author put second (the peer's `answering`) to the bottom.
 */
import { graphlib, layout, type EdgeLabel, type GraphLabel, type NodeLabel } from '@dagrejs/dagre';
import { chartStates, type ChartState, type ChartTransition, type MachineChart } from './chart.js';
import { stateLines, transitionLabel } from './label.js';

/** Monospace glyphs are 0.6em wide. */
const CHAR_WIDTH = 7.2;
const LINE_HEIGHT = 16;
/** From a line's top to its text's baseline. */
const BASELINE = 12;
const PAD = 8;
/** Room left of a self-handled transition's text for its loop arrow. */
const LOOP_INDENT = 18;
const ORDER = 'order';

export interface Point {
  x: number;
  y: number;
}

/** A rectangle by its top-left corner. */
export interface Box extends Point {
  width: number;
  height: number;
}

/** One line of text, `y` at its baseline. */
export interface TextLine extends Point {
  text: string;
  role: 'name' | 'detail' | 'label';
  anchor: 'start' | 'middle';
}

export interface PlacedState {
  state: ChartState;
  box: Box;
  text: TextLine[];
}

/** A transition to other states (or re-entering its own): one route and one label line per target. */
export interface PlacedEdge {
  transition: ChartTransition;
  routes: Point[][];
  text: TextLine[];
}

/** A transition that stays put, listed inside its state with a loop arrow around `loop`. */
export interface PlacedLoop {
  transition: ChartTransition;
  loop: Point;
  text: TextLine[];
}

export interface ChartLayout {
  width: number;
  height: number;
  /** Depth-first, so outer boxes come before the boxes they contain. */
  states: PlacedState[];
  edges: PlacedEdge[];
  loops: PlacedLoop[];
  /** From each compound state's title to its initial child. */
  initials: Point[][];
}

type Graph = graphlib.Graph<GraphLabel, NodeLabel, EdgeLabel>;

/** The transitions from one state to another, drawn as one route. */
interface Bundle {
  source: string;
  target: string;
  members: ChartTransition[];
}

/**
 * Lays a chart out top to bottom.
 *
 * @example
 * ```ts
 * const { width, height, states } = layoutChart(machineChart(peerConnectionMachine));
 * ```
 */
export function layoutChart(chart: MachineChart): ChartLayout {
  const states = chartStates(chart);
  const loops = groupBy(
    chart.transitions.filter((t) => t.targets.length === 0),
    (t) => t.source,
  );
  const boxes = new Map(states.map((s) => [s.id, boxContent(s, loops.get(s.id) ?? [])]));
  const bundles = bundlesOf(chart.transitions);
  const tree = stateTree(states);
  const leavesSource = (b: Bundle) => !tree.within(b.target, b.source);
  const exits = new Set(bundles.filter(leavesSource).map((b) => b.source).filter((id) => tree.isCluster(id)));
  const graph = buildGraph(states, boxes, exits, tree);

  /** A bundle's edge as the graph holds it: pointing down the definition order. */
  const edgeOf = (bundle: Bundle) => {
    const fromExit = exits.has(bundle.source) && leavesSource(bundle);
    const from = fromExit ? graph.exit(bundle.source) : graph.entry(bundle.source);
    const to = graph.entry(bundle.target);
    const backward = graph.order(to) < graph.order(from);
    const [v, w] = backward ? [to, from] : [from, to];
    // An edge through a cluster's border gets a rank for its label clear of that border; on the
    // border's own rank, dagre has to put the label beside the whole cluster.
    const entersCluster = tree.isCluster(bundle.target) && !tree.within(bundle.source, bundle.target);
    const minlen = fromExit || entersCluster ? 2 : 1;
    return { v, w, name: `${bundle.source}\u0000${bundle.target}`, backward, fromExit, minlen, lines: bundle.members.map(transitionLabel) };
  };
  const g = graph.g;
  for (const bundle of bundles) {
    const { v, w, name, minlen, lines } = edgeOf(bundle);
    g.setEdge({ v, w, name }, { width: widest(lines) + PAD, height: lines.length * LINE_HEIGHT, labelpos: 'c', minlen });
  }

  layout(g);

  const boxOf = (node: string): Box => {
    const { x = 0, y = 0, width, height } = g.node(node);
    return { x: x - width / 2, y: y - height / 2, width, height };
  };
  const placed = states.map((s) => ({ state: s, box: boxOf(s.id), ...boxes.get(s.id)!.place(boxOf(graph.entry(s.id))) }));
  const edges = new Map<ChartTransition, PlacedEdge>();
  for (const bundle of bundles) {
    const { v, w, name, backward, fromExit, lines } = edgeOf(bundle);
    const edge = g.edge({ v, w, name });
    const center = { x: edge.x ?? 0, y: edge.y ?? 0 };
    const points = backward ? [...(edge.points ?? [])].reverse() : edge.points ?? [];
    const route = v === w ? selfLoop(boxOf(v), center, edge.width ?? 0) : fromExit ? leaveBox(points, boxOf(bundle.source)) : points;
    const text = centeredLines(lines, center);
    bundle.members.forEach((transition, i) => {
      const placedEdge = edges.get(transition) ?? { transition, routes: [], text: [] };
      placedEdge.routes.push(route);
      placedEdge.text.push(text[i]!);
      edges.set(transition, placedEdge);
    });
  }
  return {
    width: g.graph().width ?? 0,
    height: g.graph().height ?? 0,
    states: placed.map(({ state, box, text }) => ({ state, box, text })),
    edges: chart.transitions.flatMap((t) => edges.get(t) ?? []),
    loops: placed.flatMap((p) => p.loops),
    initials: states.flatMap((s) =>
      s.initial ? [g.edge({ v: graph.entry(s.id), w: graph.entry(s.initial), name: ORDER }).points ?? []] : [],
    ),
  };
}

function bundlesOf(transitions: readonly ChartTransition[]): Bundle[] {
  const routes = transitions.flatMap((transition) => transition.targets.map((target) => ({ transition, target })));
  const groups = groupBy(routes, (r) => `${r.transition.source}\u0000${r.target}`);
  return [...groups.values()].map((group) => ({
    source: group[0]!.transition.source,
    target: group[0]!.target,
    members: group.map((r) => r.transition),
  }));
}

/** The nesting of a chart's states, by id. */
function stateTree(states: readonly ChartState[]) {
  const parents = new Map(states.flatMap((s) => s.children.map((c) => [c.id, s.id] as const)));
  const clusters = new Set(states.filter((s) => s.children.length > 0).map((s) => s.id));
  return {
    isCluster: (id: string) => clusters.has(id),
    /** Whether `id` is `ancestor` or inside it. */
    within(id: string, ancestor: string): boolean {
      for (let at: string | undefined = id; at !== undefined; at = parents.get(at)) if (at === ancestor) return true;
      return false;
    },
  };
}

/** The graph's nodes and ordering edges, before any transition is added. */
function buildGraph(
  states: readonly ChartState[],
  boxes: ReadonlyMap<string, { width: number; height: number }>,
  exits: ReadonlySet<string>,
  tree: ReturnType<typeof stateTree>,
) {
  const entry = (id: string) => (tree.isCluster(id) ? `${id}\u0000title` : id);
  const exit = (id: string) => `${id}\u0000exit`;
  const order = new Map<string, number>();
  const g: Graph = new graphlib.Graph({ compound: true, multigraph: true });
  g.setGraph({ rankdir: 'TB', nodesep: 28, ranksep: 36, edgesep: 14, marginx: 12, marginy: 12 });
  states.forEach((s, i) => {
    order.set(entry(s.id), i);
    g.setNode(entry(s.id), { ...boxes.get(s.id)! });
    if (!tree.isCluster(s.id)) return;
    g.setNode(s.id, { width: 0, height: 0 });
    g.setParent(entry(s.id), s.id);
    for (const child of s.children) {
      g.setParent(child.id, s.id);
      g.setEdge(entry(s.id), entry(child.id), { weight: child.id === s.initial ? 2 : 0, minlen: 1 }, ORDER);
    }
  });
  for (const id of exits) {
    const inside = states.filter((s) => s.id !== id && tree.within(s.id, id));
    order.set(exit(id), Math.max(...inside.map((s) => order.get(entry(s.id))!)) + 0.5);
    g.setNode(exit(id), { width: 0, height: 0 });
    g.setParent(exit(id), id);
    for (const s of inside) g.setEdge(exits.has(s.id) ? exit(s.id) : entry(s.id), exit(id), { weight: 0, minlen: 1 }, ORDER);
  }
  return { g, entry, exit, order: (node: string) => order.get(node)! };
}

const widest = (lines: readonly string[]) => Math.max(0, ...lines.map((l) => l.length)) * CHAR_WIDTH;

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

/** A state's box: name and details centered, then the transitions that stay in it, one a line. */
function boxContent(s: ChartState, loops: readonly ChartTransition[]) {
  const centered = [s.key, ...stateLines(s)];
  const rows = loops.map(transitionLabel);
  return {
    width: Math.max(widest(centered), LOOP_INDENT + widest(rows)) + 2 * PAD,
    height: (centered.length + rows.length) * LINE_HEIGHT + 2 * PAD,
    place(box: Box): { text: TextLine[]; loops: PlacedLoop[] } {
      const lineTop = (i: number) => box.y + PAD + i * LINE_HEIGHT;
      const left = box.x + PAD;
      return {
        text: centered.map((text, i) => ({
          text,
          role: i === 0 ? 'name' : 'detail',
          anchor: 'middle',
          x: box.x + box.width / 2,
          y: lineTop(i) + BASELINE,
        })),
        loops: loops.map((transition, i) => {
          const top = lineTop(centered.length + i);
          const text: TextLine = { text: rows[i]!, role: 'label', anchor: 'start', x: left + LOOP_INDENT, y: top + BASELINE };
          return { transition, loop: { x: left + LOOP_INDENT / 2, y: top + LINE_HEIGHT / 2 }, text: [text] };
        }),
      };
    },
  };
}

function centeredLines(lines: readonly string[], center: Point): TextLine[] {
  const top = center.y - (lines.length * LINE_HEIGHT) / 2;
  return lines.map((text, i) => ({ text, role: 'label', anchor: 'middle', x: center.x, y: top + i * LINE_HEIGHT + BASELINE }));
}

/** A route from a cluster's exit node starts where it crosses the cluster's bottom border. */
function leaveBox([start, ...rest]: readonly Point[], cluster: Box): Point[] {
  return start ? [{ x: start.x, y: cluster.y + cluster.height }, ...rest] : [];
}

/** Dagre parks a self-transition's label right of its state; the loop leaves and re-enters the state's right side short of it. */
function selfLoop(box: Box, label: Point, labelWidth: number): Point[] {
  const right = box.x + box.width;
  const out = Math.max(right + 12, label.x - labelWidth / 2);
  const middle = box.y + box.height / 2;
  return [
    { x: right, y: middle - 8 },
    { x: out, y: middle - 16 },
    { x: out, y: middle + 16 },
    { x: right, y: middle + 8 },
  ];
}
