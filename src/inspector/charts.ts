import { chartSvg } from '../charts/svg.js';
import { machineChart } from '../charts/chart.js';
import { dhtMachine } from '../machines/dht.machine.js';
import { nodeMachine } from '../machines/node.machine.js';
import { peerConnectionMachine } from '../machines/peerConnection.machine.js';
import { signalingMachine } from '../machines/signaling.machine.js';

let charts: Record<string, string> | undefined;

/** The SVG chart of each machine a node runs, by root id; laid out once per process. */
export function inspectorCharts(): Record<string, string> {
  charts ??= Object.fromEntries(
    [nodeMachine, signalingMachine, peerConnectionMachine, dhtMachine].map((machine) => [machine.id, chartSvg(machineChart(machine))]),
  );
  return charts;
}
