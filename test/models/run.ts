/**
 * Runs the paths of an abstract test model against the real actor it stands for. The model decides
 * what happens and what must be seen; a `Harness` makes it happen to the real actor and checks it.
 */
import type { AnyMachineSnapshot, AnyStateMachine, EventObject } from 'xstate';
import { createTestModel, type TestPath } from 'xstate/graph';

/** Drives one real actor through one path; a fresh harness per path, so paths cannot leak into each other. */
export interface Harness<TEvent extends EventObject> {
  /** Makes the environment do what `event` stands for; `before`/`after` are the model's states around it. */
  perform(event: TEvent, before: AnyMachineSnapshot, after: AnyMachineSnapshot): void;
  /** Throws unless the real actor is where the model now is (`before` is where the model was). */
  verify(model: AnyMachineSnapshot, before: AnyMachineSnapshot): void;
}

/**
 * `simple`: every path that visits no model state twice — every ordering, for slices small enough.
 * `shortest`: one shortest path per (model state, event) pair, so every transition of the model is
 * taken at least once even where the product space is far too large for simple paths.
 */
export type Strategy = 'simple' | 'shortest';

export interface PathOptions<TEvent extends EventObject> {
  strategy: Strategy;
  /** The concrete events (payloads included) the model may be offered; its transitions decide where each applies. */
  events: TEvent[];
  /** Leaves out events that cannot happen in a state, or that a slice of the model does not explore. */
  filter?: (snapshot: AnyMachineSnapshot, event: TEvent) => boolean;
  /**
   * Context fields that only say what the last step must have shown (the model's verdict). They do not
   * change what happens next, so `shortest` does not multiply its targets by them.
   */
  verdicts?: string[];
}

export interface ModelPath<TEvent extends EventObject> {
  /** The events in order and where the model ends: a failing test names its path. */
  title: string;
  path: TestPath<AnyMachineSnapshot, TEvent>;
}

const describeEvent = (event: EventObject): string => {
  const { type, ...payload } = event as EventObject & Record<string, unknown>;
  const details = Object.values(payload).join(',');
  return details ? `${type}(${details})` : type;
};

const describeValue = (value: unknown): string =>
  typeof value === 'string'
    ? value
    : Object.entries(value as Record<string, unknown>)
        .map(([key, inner]) => `${key}.${describeValue(inner)}`)
        .join(',');

const titleOf = (path: TestPath<AnyMachineSnapshot, EventObject>): string => {
  // The first step is the model's own start (`xstate.init`), not an event of the environment.
  const events = path.steps.slice(1).map((step) => describeEvent(step.event));
  return `${events.join(' → ') || '(start)'} ⇒ ${describeValue(path.state.value)}`;
};

/**
 * Makes a (state, event) pair its own target: shortest paths to all targets then take every transition,
 * including those that end where another path already ends (a routed signal changes no model state).
 */
function byTransition(verdicts: string[]) {
  const behaviour = (snapshot: AnyMachineSnapshot) => {
    const context = { ...(snapshot.context as Record<string, unknown>) };
    for (const key of verdicts) delete context[key];
    return JSON.stringify({ value: snapshot.value, context });
  };
  return (_: AnyMachineSnapshot, event: EventObject | undefined, previous?: AnyMachineSnapshot) =>
    event && previous ? ` via ${JSON.stringify(event)} from ${behaviour(previous)}` : '';
}

/** The model's paths, without those that are a prefix of another (running the longer one checks both). */
export function modelPaths<TEvent extends EventObject>(
  model: AnyStateMachine,
  { strategy, events, filter, verdicts = [] }: PathOptions<TEvent>,
): ModelPath<TEvent>[] {
  const testModel = createTestModel(model, {
    events: events as never,
    filterEvents: filter as never,
    ...(strategy === 'shortest' ? { serializeTransition: byTransition(verdicts) as never } : {}),
  });
  const paths = strategy === 'simple' ? testModel.getSimplePaths() : testModel.getShortestPaths();
  return (paths as unknown as TestPath<AnyMachineSnapshot, TEvent>[]).map((path) => ({ title: titleOf(path), path }));
}

/** Walks `path` through the real actor: perform each event, then check the real state against the model's. */
export async function runPath<TEvent extends EventObject>(
  model: AnyStateMachine,
  { path }: ModelPath<TEvent>,
  harness: Harness<TEvent>,
): Promise<void> {
  let before = path.steps[0]!.state;
  const perform = ({ event, state }: { event: TEvent; state: AnyMachineSnapshot }) => harness.perform(event, before, state);
  const events = Object.fromEntries((model.root.events as string[]).map((type) => [type, perform]));
  // path.test() appends the whole path, step by step, to the message of whatever assertion fails.
  await path.test({
    events: events as never,
    states: {
      '*': (state: AnyMachineSnapshot) => {
        harness.verify(state, before);
        before = state;
      },
    },
  });
}

/** Runs every path with a fresh harness from `harnessFor`; for coverage runs over all paths. */
export async function runAll<TEvent extends EventObject>(
  model: AnyStateMachine,
  paths: ModelPath<TEvent>[],
  harnessFor: () => Harness<TEvent>,
): Promise<void> {
  for (const path of paths) await runPath(model, path, harnessFor());
}
