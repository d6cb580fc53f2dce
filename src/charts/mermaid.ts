/**
 * Renders a chart as a Mermaid `stateDiagram-v2`, the format GitHub draws from a fenced block.
 */
import { chartStates, type ChartState, type MachineChart } from './chart.js';
import { stateLines, transitionLabel } from './label.js';

const INDENT = '  ';

/**
 * The chart as Mermaid source. The machine itself is the outermost composite state, so transitions
 * defined on the root (e.g. the peer's `CLOSE`) have a box to start from; a transition that stays put
 * is a loop on its source. Atomic states list their entry/exit actions and invoked actors; Mermaid
 * rejects descriptions on composite states, so theirs show in the SVG only.
 *
 * States are all declared inside their parents first and every transition follows at the top level:
 * Mermaid re-parents a state mentioned inside another composite block, so no state is mentioned
 * anywhere but in its own block until the layout is fixed.
 *
 * @example
 * ```ts
 * writeFileSync('peer.mmd', toMermaid(machineChart(peerConnectionMachine)));
 * ```
 */
export function toMermaid(chart: MachineChart): string {
  assertDistinctIds(chart);
  const transitions = chart.transitions.flatMap((t) => {
    const label = escapeText(transitionLabel(t));
    const targets = t.targets.length > 0 ? t.targets : [t.source];
    return targets.map((target) => `${INDENT}${mermaidId(t.source)} --> ${mermaidId(target)} : ${label}`);
  });
  const root = mermaidId(chart.root.id);
  return ['stateDiagram-v2', `${INDENT}[*] --> ${root}`, ...stateBlock(chart.root, 1), ...transitions, ''].join('\n');
}

/** Mermaid ids are word characters only (no dots), so `node.running.online` becomes `node_running_online`. */
function mermaidId(stateId: string): string {
  return stateId.replace(/\W/g, '_');
}

function assertDistinctIds(chart: MachineChart): void {
  const ids = chartStates(chart).map((s) => mermaidId(s.id));
  const clash = ids.find((id, i) => ids.indexOf(id) !== i);
  if (clash) throw new Error(`${chart.id}: two states are both "${clash}" in Mermaid; rename one`);
}

/** A state's declaration and, for a composite, its block: children, initial arrow, final arrows. */
function stateBlock(state: ChartState, depth: number): string[] {
  const pad = INDENT.repeat(depth);
  const id = mermaidId(state.id);
  const declaration = `${pad}state "${escapeText(state.key)}" as ${id}`;
  if (state.children.length === 0) {
    return [declaration, ...stateLines(state).map((line) => `${pad}${id} : ${escapeText(line)}`)];
  }
  const inner = pad + INDENT;
  return [
    declaration,
    `${pad}state ${id} {`,
    ...state.children.flatMap((child) => stateBlock(child, depth + 1)),
    ...(state.initial ? [`${inner}[*] --> ${mermaidId(state.initial)}`] : []),
    ...state.children.filter((c) => c.kind === 'final').map((c) => `${inner}${mermaidId(c.id)} --> [*]`),
    `${pad}}`,
  ];
}

/**
 * Mermaid reads `:` and `;` as syntax, `#` and `%%` as comments, braces as blocks, quotes as string
 * ends and `<>` as HTML tags; its `#<code>;` entities survive all of them.
 */
function escapeText(text: string): string {
  return text.replace(/[:;#%{}"<>]/g, (c) => `#${c.charCodeAt(0)};`);
}
