/**
 * A machine's statechart as plain data — states as a tree, transitions as a flat list — read off the
 * machine's definition, so renderers (Mermaid, SVG) need not know xstate's internals.
 */
import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition, UnknownAction } from 'xstate';
import { actionName, guardText, isTimerAction } from './names.js';

/** One state and, for compound and parallel states, its children in definition order. */
export interface ChartState {
  /** The state node's id, e.g. `peer.connecting`; the root's id is the machine's id. */
  id: string;
  key: string;
  kind: AnyStateNode['type'];
  /** The id of the child a compound state enters first. */
  initial?: string;
  entry: string[];
  exit: string[];
  /** The `src` of each actor the state invokes. */
  invoke: string[];
  description?: string;
  children: ChartState[];
}

export interface ChartTransition {
  /** `source --event[index]--> targets`, as {@link transitionKey} builds it. */
  key: string;
  source: string;
  /** Empty for a transition that stays put: the source handles the event with actions, or ignores it. */
  targets: string[];
  /** What triggers it, as a reader says it: the event type, `after offerTimeout`, or `always`. */
  event: string;
  /** Its place among the candidates for the same event on the same state: the first whose guard passes wins. */
  index: number;
  guard?: string;
  actions: string[];
  kind: 'event' | 'after' | 'always';
}

export interface MachineChart {
  /** The machine's id, which is also its root state's id. */
  id: string;
  root: ChartState;
  /** Every transition, in definition order: states depth-first, then each state's events in order. */
  transitions: ChartTransition[];
}

/**
 * The chart of a machine: every state and every transition it defines, including targetless ones
 * (they still run actions), `after` timers under their delay's name, and eventless `always` ones.
 *
 * @example
 * ```ts
 * const chart = machineChart(peerConnectionMachine);
 * chart.transitions.find((t) => t.source === 'peer.offering' && t.kind === 'after')?.event; // 'after offerTimeout'
 * ```
 */
export function machineChart(machine: AnyStateMachine): MachineChart {
  const root: AnyStateNode = machine.root;
  return { id: root.id, root: chartState(root), transitions: descendants(root).flatMap(nodeTransitions) };
}

/**
 * The key test/models/coverage.ts gives a transition, so charts and coverage reports name
 * transitions alike: `peer.offering --SIGNAL.IN[0]--> peer.connecting`, `(self)` when targetless.
 *
 * @param eventType xstate's own event type: `''` for `always`, `xstate.after.<delay>.<state id>` for timers.
 */
export function transitionKey(source: string, eventType: string, index: number, targets: readonly string[]): string {
  return `${source} --${eventType || 'always'}[${index}]--> ${targets.join(',') || '(self)'}`;
}

/** Every state of a chart, depth-first from the root. */
export function chartStates(chart: MachineChart): ChartState[] {
  const walk = (state: ChartState): ChartState[] => [state, ...state.children.flatMap(walk)];
  return walk(chart.root);
}

function descendants(node: AnyStateNode): AnyStateNode[] {
  return [node, ...children(node).flatMap(descendants)];
}

function children(node: AnyStateNode): AnyStateNode[] {
  return Object.values(node.states as Record<string, AnyStateNode>);
}

function chartState(node: AnyStateNode): ChartState {
  const timers = new Set(node.after.map((t) => t.eventType));
  const names = (actions: readonly UnknownAction[]) => actions.filter((a) => !isTimerAction(a, timers)).map(actionName);
  const initial = node.initial?.target[0]?.id;
  return {
    id: node.id,
    key: node.key,
    kind: node.type,
    ...(initial && { initial }),
    entry: names(node.entry),
    exit: names(node.exit),
    invoke: node.invoke.map((i) => (typeof i.src === 'string' ? i.src : i.id)),
    ...(node.description && { description: node.description }),
    children: children(node).map(chartState),
  };
}

function nodeTransitions(node: AnyStateNode): ChartTransition[] {
  const candidateLists = [...node.transitions.values(), node.always ?? []];
  return candidateLists.flatMap((candidates) => candidates.map((t, index) => chartTransition(node, t, index)));
}

function chartTransition(node: AnyStateNode, t: AnyTransitionDefinition, index: number): ChartTransition {
  const targets = (t.target ?? []).map((target) => target.id);
  const delay = node.after.find((d) => d === t)?.delay;
  const kind = t.eventType === '' ? 'always' : delay === undefined ? 'event' : 'after';
  const event = kind === 'always' ? 'always' : kind === 'after' ? `after ${delayName(delay)}` : t.eventType;
  return {
    key: transitionKey(node.id, t.eventType, index, targets),
    source: node.id,
    targets,
    event,
    index,
    ...(t.guard && { guard: guardText(t.guard) }),
    actions: t.actions.map(actionName),
    kind,
  };
}

/** `after` keys are delay names or milliseconds; xstate keeps them as the string or number it parsed. */
function delayName(delay: unknown): string {
  return typeof delay === 'number' ? `${delay}ms` : String(delay);
}
