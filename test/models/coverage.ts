import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition, InspectionEvent } from 'xstate';
import { transitionKey } from '../../src/charts/chart.js';

/**
 * The states and transitions of a real machine, keyed the same way whether read off its definition
 * or off a running actor's microsteps, so model paths can be checked against the machine itself.
 *
 * A transition's key is `source --event[i]--> targets`, `i` being its place among the candidates
 * for that event (guarded alternatives are separate transitions).
 */
export interface MachineGraph {
  states: Set<string>;
  transitions: Set<string>;
}

function keyOf(t: AnyTransitionDefinition): string {
  const source = t.source as AnyStateNode;
  const candidates = t.eventType === '' ? source.always ?? [] : source.transitions.get(t.eventType) ?? [];
  const index = candidates.findIndex((c: AnyTransitionDefinition) => c === t || sameTransition(c, t));
  return transitionKey(source.id, t.eventType, index, (t.target ?? []).map((n: AnyStateNode) => n.id));
}

function sameTransition(a: AnyTransitionDefinition, b: AnyTransitionDefinition): boolean {
  return a.toJSON().eventType === b.toJSON().eventType && JSON.stringify(a.toJSON()) === JSON.stringify(b.toJSON());
}

function allNodes(node: AnyStateNode): AnyStateNode[] {
  return [node, ...Object.values(node.states as Record<string, AnyStateNode>).flatMap(allNodes)];
}

/** Every state and transition the machine defines. */
export function machineGraph(machine: AnyStateMachine): MachineGraph {
  const nodes = allNodes(machine.root);
  const transitions = new Set<string>();
  for (const node of nodes) {
    for (const list of node.transitions.values()) for (const t of list) transitions.add(keyOf(t));
    for (const t of node.always ?? []) transitions.add(keyOf(t));
  }
  return { states: new Set(nodes.map((n) => n.id)), transitions };
}

/**
 * Records what actors of the machine whose root id is `machineId` actually do: every state they are
 * in and every transition they take. Pass `recorder.inspect` as the actor's `inspect` option.
 */
export class CoverageRecorder {
  readonly seen: MachineGraph = { states: new Set(), transitions: new Set() };

  constructor(readonly machineId: string) {}

  readonly inspect = (event: InspectionEvent): void => {
    const logic = (event.actorRef as unknown as { logic?: { root?: AnyStateNode } }).logic;
    if (logic?.root?.id !== this.machineId) return;
    if (event.type === '@xstate.microstep') {
      for (const t of event._transitions) {
        this.seen.transitions.add(keyOf(t));
        // A transient state (left by `always` in the macrostep that entered it) is in no inspected
        // snapshot; that one of its transitions was taken is the proof it was reached.
        this.seen.states.add((t.source as AnyStateNode).id);
      }
    }
    if (event.type === '@xstate.snapshot' || event.type === '@xstate.microstep') {
      const nodes = (event.snapshot as unknown as { _nodes?: AnyStateNode[] })._nodes ?? [];
      for (const node of nodes) this.seen.states.add(node.id);
    }
  };

  /** What the machine defines that no recorded run reached. */
  missing(machine: AnyStateMachine): MachineGraph {
    const all = machineGraph(machine);
    return {
      states: new Set([...all.states].filter((s) => !this.seen.states.has(s))),
      transitions: new Set([...all.transitions].filter((t) => !this.seen.transitions.has(t))),
    };
  }

  /** Reached share of the machine's states and transitions. */
  ratio(machine: AnyStateMachine): { states: string; transitions: string } {
    const all = machineGraph(machine);
    const miss = this.missing(machine);
    const share = (total: number, missed: number) => `${total - missed}/${total}`;
    return { states: share(all.states.size, miss.states.size), transitions: share(all.transitions.size, miss.transitions.size) };
  }
}

/**
 * Runs `runAll` with a recorder attached and reports what of `machine` it reached: the ratios to
 * quote, and the states and transitions (as arrays, for readable failures) no run reached.
 */
export async function measureCoverage(
  machine: AnyStateMachine,
  runAll: (inspect: (event: InspectionEvent) => void) => Promise<void>,
): Promise<{ ratio: { states: string; transitions: string }; missingStates: string[]; missingTransitions: string[] }> {
  const recorder = new CoverageRecorder(machine.id);
  await runAll(recorder.inspect);
  const missing = recorder.missing(machine);
  return { ratio: recorder.ratio(machine), missingStates: [...missing.states], missingTransitions: [...missing.transitions] };
}
