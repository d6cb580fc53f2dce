import type { StateValue } from 'xstate';

/** `{ running: 'online' }` → `running.online` (parallel regions, should a machine have them, joined by commas). */
export function stateName(value: StateValue): string {
  if (typeof value === 'string') return value;
  return Object.entries(value)
    .map(([key, child]) => (child === undefined ? key : `${key}.${stateName(child)}`))
    .join(',');
}

/**
 * The ids of every state node `value` is in, below the root: `('node', { running: 'online' })` →
 * `['node.running', 'node.running.online']`. These are the `data-state` ids of the machine's chart.
 */
export function activeStateIds(machineId: string, value: StateValue): string[] {
  if (typeof value === 'string') return [`${machineId}.${value}`];
  return Object.entries(value).flatMap(([key, child]) => {
    const id = `${machineId}.${key}`;
    return child === undefined ? [id] : [id, ...activeStateIds(id, child)];
  });
}
