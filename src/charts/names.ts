/**
 * How the guards and actions xstate stores on a state node read as text: referenced ones by name,
 * xstate's built-ins by what they do, since a chart should name what the machine's author wrote.
 */
import type { AnyTransitionDefinition, UnknownAction } from 'xstate';

type Guard = NonNullable<AnyTransitionDefinition['guard']>;

/** What `and`/`or`/`not`/`stateIn` and the built-in actions hang on the functions they return; not in xstate's public types. */
interface BuiltIn {
  type?: unknown;
  guards?: readonly Guard[];
  stateValue?: unknown;
  id?: unknown;
  sendId?: unknown;
}

/**
 * A guard as a reader would write it: `isAnswer`, `isOffer && atCapacity`, `!(a || b)`.
 *
 * @example
 * ```ts
 * guardText(and(['isOffer', 'atCapacity'])); // 'isOffer && atCapacity'
 * ```
 */
export function guardText(guard: Guard): string {
  if (typeof guard === 'string') return guard;
  if (typeof guard !== 'function') return guard.type;
  const { guards = [], stateValue } = guard as BuiltIn;
  switch (guard.name) {
    case 'and':
      return guards.map(operand).join(' && ');
    case 'or':
      return guards.map(operand).join(' || ');
    case 'not':
      return `!${operand(guards[0]!)}`;
    case 'stateIn':
      return `in(${typeof stateValue === 'string' ? stateValue : JSON.stringify(stateValue)})`;
    default:
      return guard.name || 'inline guard';
  }
}

/** An `and` or `or` inside another guard needs parentheses to keep its precedence. */
function operand(guard: Guard): string {
  const binary = typeof guard === 'function' && (guard.name === 'and' || guard.name === 'or');
  return binary ? `(${guardText(guard)})` : guardText(guard);
}

/** An action's name: `closeWith` for `{ type: 'closeWith', params }`, `assign` for an inline `assign(...)`. */
export function actionName(action: UnknownAction): string {
  if (typeof action === 'string') return action;
  if (typeof action !== 'function') return action.type;
  const { type } = action as BuiltIn;
  return typeof type === 'string' ? type.replace(/^xstate\./, '') : action.name || 'inline action';
}

/**
 * True for the `raise` xstate adds to a state's entry and the `cancel` it adds to its exit to run an
 * `after` timer (`timers` holds the state's delayed event types): plumbing, not the author's actions.
 */
export function isTimerAction(action: UnknownAction, timers: ReadonlySet<string>): boolean {
  if (typeof action !== 'function') return false;
  const { id, sendId } = action as BuiltIn;
  return [id, sendId].some((ref) => typeof ref === 'string' && timers.has(ref));
}
