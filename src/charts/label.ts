/**
 * The words a chart shows, shared by every renderer so a transition reads the same in Mermaid and SVG.
 */
import type { ChartState, ChartTransition } from './chart.js';

/**
 * A transition's label: `EVENT [guard] / action1, action2`, leaving out what it does not have.
 *
 * @example
 * ```ts
 * transitionLabel(offeringTimeout); // 'after offerTimeout / closeWith, sayReject'
 * ```
 */
export function transitionLabel(t: ChartTransition): string {
  const trigger = t.guard ? `${t.event} [${t.guard}]` : t.event;
  return t.actions.length > 0 ? `${trigger} / ${t.actions.join(', ')}` : trigger;
}

/** What a state does besides its transitions, one line each: description, `entry / …`, `exit / …`, `invoke …`. */
export function stateLines(s: ChartState): string[] {
  return [
    ...(s.description ? [s.description] : []),
    ...(s.entry.length > 0 ? [`entry / ${s.entry.join(', ')}`] : []),
    ...(s.exit.length > 0 ? [`exit / ${s.exit.join(', ')}`] : []),
    ...s.invoke.map((src) => `invoke ${src}`),
  ];
}
