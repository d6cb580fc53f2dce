import { describe, expect, it } from 'vitest';
import { and, not, or, setup, type AnyStateMachine } from 'xstate';
import { chartStates, machineChart, type ChartTransition, type MachineChart } from '../src/charts/chart.js';
import { toMermaid } from '../src/charts/mermaid.js';
import { chartSvg } from '../src/charts/svg.js';
import { nodeMachine } from '../src/machines/node.machine.js';
import { peerConnectionMachine } from '../src/machines/peerConnection.machine.js';
import { signalingMachine } from '../src/machines/signaling.machine.js';
import { dhtMachine } from '../src/machines/dht.machine.js';
import { machineGraph } from './models/coverage.js';

const machines: [string, AnyStateMachine][] = [
  ['node', nodeMachine],
  ['signaling', signalingMachine],
  ['peer', peerConnectionMachine],
  ['dht', dhtMachine],
];

const peer = machineChart(peerConnectionMachine);
const node = machineChart(nodeMachine);
const signaling = machineChart(signalingMachine);

const stateOf = (chart: MachineChart, id: string) => chartStates(chart).find((s) => s.id === id);
const from = (chart: MachineChart, source: string, event?: string): ChartTransition[] =>
  chart.transitions.filter((t) => t.source === source && (event === undefined || t.event === event));

describe('machineChart', () => {
  it('has the peer states in definition order, closed being final', () => {
    expect(peer.root.children.map((s) => s.key)).toEqual([
      'idle',
      'offering',
      'answering',
      'connecting',
      'verifying',
      'connected',
      'recovering',
      'closing',
      'closed',
    ]);
    expect(peer.root).toMatchObject({ id: 'peer', kind: 'compound', initial: 'peer.idle' });
    expect(stateOf(peer, 'peer.closed')?.kind).toBe('final');
  });

  it('names an after transition by its delay, not by the event xstate raises for it', () => {
    expect(from(peer, 'peer.offering').filter((t) => t.kind === 'after')).toEqual([
      expect.objectContaining({
        event: 'after offerTimeout',
        targets: ['peer.closed'],
        actions: ['closeWith', 'sayReject'],
        key: 'peer.offering --xstate.after.offerTimeout.peer.offering[0]--> peer.closed',
      }),
    ]);
  });

  it('keeps eventless transitions in order, the guarded one first', () => {
    expect(from(peer, 'peer.idle').map(({ kind, event, guard, targets }) => ({ kind, event, guard, targets }))).toEqual([
      { kind: 'always', event: 'always', guard: 'isInitiator', targets: ['peer.offering'] },
      { kind: 'always', event: 'always', guard: undefined, targets: ['peer.answering'] },
    ]);
  });

  it('keeps guarded alternatives in the order xstate tries them, targetless ones included', () => {
    expect(from(node, 'node.running', 'SIGNAL.IN').map(({ index, guard, actions, targets }) => ({ index, guard, actions, targets }))).toEqual([
      { index: 0, guard: 'knowsSender', actions: ['rememberRoute', 'routeSignal'], targets: [] },
      { index: 1, guard: 'isOffer && atCapacity', actions: ['rememberRoute', 'logRefused', 'refuseOffer'], targets: [] },
      { index: 2, guard: 'isOffer && busy', actions: ['rememberRoute', 'logBusy', 'refuseOffer'], targets: [] },
      { index: 3, guard: 'isOffer', actions: ['rememberRoute', 'spawnResponder'], targets: [] },
      { index: 4, guard: undefined, actions: ['logDropped'], targets: [] },
    ]);
  });

  it('writes composite guards with the parentheses their precedence needs', () => {
    const machine = setup({ guards: { a: () => true, b: () => true, c: () => true } }).createMachine({
      id: 'm',
      on: { E: { guard: and([not(or(['a', 'b'])), 'c']) } },
    });
    expect(machineChart(machine).transitions[0]?.guard).toBe('!(a || b) && c');
  });

  it('leaves wildcard and done events as they are', () => {
    expect(from(node, 'node.running').map((t) => t.event)).toEqual(
      expect.arrayContaining(['xstate.done.actor.peer.*', 'xstate.error.actor.peer.*', 'xstate.done.actor.signaling']),
    );
  });

  it("lists a state's own entry and exit actions and invoked actors, not the timers xstate adds for after", () => {
    expect(stateOf(peer, 'peer.offering')).toMatchObject({ entry: ['startTransport'], exit: [], invoke: [] });
    expect(stateOf(signaling, 'signaling.online.registered')).toMatchObject({ entry: ['flush'], exit: ['notifyLost'] });
    expect(stateOf(node, 'node.running')).toMatchObject({ entry: ['connectSignaling', 'startDht'], invoke: ['signaling'] });
  });

  it.each(machines)('%s: sees every state and transition machineGraph() sees, under the same keys', (_, machine) => {
    const chart = machineChart(machine);
    const keys = chart.transitions.map((t) => t.key);
    const graph = machineGraph(machine);
    expect(new Set(keys)).toEqual(graph.transitions);
    expect(keys).toHaveLength(new Set(keys).size);
    expect(new Set(chartStates(chart).map((s) => s.id))).toEqual(graph.states);
  });

  it('is deterministic', () => {
    expect(machineChart(peerConnectionMachine)).toEqual(peer);
  });
});

describe('toMermaid', () => {
  it.each(machines)('%s: uses no dotted ids and declares every state once', (_, machine) => {
    const chart = machineChart(machine);
    const mermaid = toMermaid(chart);
    const statements = mermaid.split('\n').map((line) => line.split(' : ')[0]!.trim());
    const ids = statements.flatMap((s) => s.match(/^state "[^"]*" as (\S+)$|^state (\S+) \{$|^(\S+) --> (\S+)$/)?.slice(1) ?? []);
    expect(ids.filter((id) => id?.includes('.'))).toEqual([]);
    const declared = statements.filter((s) => /^state "/.test(s));
    expect(declared).toHaveLength(chartStates(chart).length);
  });

  it('starts every composite at its initial state and ends final states', () => {
    const mermaid = toMermaid(peer);
    expect(mermaid).toMatch(/^stateDiagram-v2\n {2}\[\*\] --> peer\n/);
    expect(mermaid).toContain('    [*] --> peer_idle\n');
    expect(mermaid).toContain('    peer_closed --> [*]\n');
    expect(toMermaid(node)).toContain('    state node_running {\n      state "connecting" as node_running_connecting');
    expect(toMermaid(node)).toContain('      [*] --> node_running_connecting\n    }\n');
  });

  it('draws one line per transition: targetless ones as loops, those of a composite from the composite', () => {
    const mermaid = toMermaid(node);
    expect(mermaid).toContain('  node_running --> node_running : SIGNAL.IN [isOffer && atCapacity] / rememberRoute, logRefused, refuseOffer\n');
    expect(mermaid).toContain('  node_running --> node_stopped : STOP\n');
    const edges = mermaid.split('\n').filter((line) => / --> /.test(line) && !line.includes('[*]'));
    expect(edges).toHaveLength(node.transitions.length);
  });

  it('escapes what Mermaid would read as syntax', () => {
    const chart: MachineChart = {
      id: 'm',
      root: { id: 'm', key: 'm', kind: 'atomic', entry: ['a;b'], exit: [], invoke: [], children: [] },
      transitions: [
        { key: 'k', source: 'm', targets: [], event: 'a:b#c', index: 0, guard: '{x}', actions: ['"y"'], kind: 'event' },
      ],
    };
    const mermaid = toMermaid(chart);
    expect(mermaid).toContain('m --> m : a#58;b#35;c [#123;x#125;] / #34;y#34;\n');
    expect(mermaid).toContain('m : entry / a#59;b\n');
  });
});

describe('chartSvg', () => {
  it.each(machines)('%s: is well-formed, scalable and self-contained', (_, machine) => {
    const svg = chartSvg(machineChart(machine));
    expectWellFormed(svg);
    expect(svg).toMatch(/^<svg [^>]*viewBox="0 0 [\d.]+ [\d.]+"/);
    expect(svg.slice(0, svg.indexOf('>'))).not.toMatch(/ (width|height)=/);
    expect(svg).not.toMatch(/href|@import|url\((?!#)/);
  });

  it.each(machines)('%s: has one element per state and per transition, keyed for the host page', (_, machine) => {
    const chart = machineChart(machine);
    const svg = chartSvg(chart);
    const attribute = (name: string) => [...svg.matchAll(new RegExp(`${name}="([^"]*)"`, 'g'))].map((m) => unescapeXml(m[1]!)).sort();
    expect(attribute('data-state')).toEqual(chartStates(chart).map((s) => s.id).sort());
    expect(attribute('data-transition')).toEqual(chart.transitions.map((t) => t.key).sort());
  });

  it('marks compound, final and initial states, with their rects as direct children', () => {
    const svg = chartSvg(node);
    expect(svg).toMatch(/<g class="state compound" data-state="node\.running"><rect /);
    expect(svg).toMatch(/<g class="state final" data-state="node\.stopped"><rect [^>]*\/><rect /);
    expect(svg).toMatch(/<g class="state initial" data-state="node\.idle"><rect /);
    expect(svg).toContain('data-transition="node.idle --START[0]--&gt; node.running"><path ');
  });
});

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"' };
const unescapeXml = (text: string) => text.replace(/&(amp|lt|gt|quot);/g, (_, name: string) => ENTITIES[name]!);

/** Tags balance, attributes are quoted, and `&` only starts an entity: enough of XML to catch a bad escape. */
function expectWellFormed(xml: string): void {
  const tag = /<(\/?)([A-Za-z][\w-]*)((?:\s+[\w:-]+="[^"<&]*(?:&(?:amp|lt|gt|quot);[^"<&]*)*")*)\s*(\/?)>/y;
  const open: string[] = [];
  let at = 0;
  for (let lt = xml.indexOf('<'); lt !== -1; lt = xml.indexOf('<', at)) {
    expect(xml.slice(at, lt)).not.toMatch(/&(?!(amp|lt|gt|quot);)/);
    tag.lastIndex = lt;
    const match = tag.exec(xml);
    if (!match) throw new Error(`malformed markup at: ${xml.slice(lt, lt + 80)}`);
    const [, closing, name, , selfClosing] = match;
    if (closing) expect(open.pop(), `</${name}>`).toBe(name);
    else if (!selfClosing) open.push(name!);
    at = tag.lastIndex;
  }
  expect(open).toEqual([]);
  expect(xml.slice(at).trim()).toBe('');
}
