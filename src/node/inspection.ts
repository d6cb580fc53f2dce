/** Starts what `inspect` asks for: the local inspector page and the Stately Inspector stream. */
import type { InspectionLog } from '../inspector/inspectionLog.js';
import type { InspectorServer } from '../inspector/inspectorServer.js';
import type { StatelyInspector } from '../inspector/statelyInspector.js';
import type { Logger } from '../log.js';
import type { InspectOptions } from './options.js';

/** The inspectors a node runs; each is absent unless asked for. */
export interface Inspectors {
  page?: InspectorServer;
  stately?: StatelyInspector;
}

/**
 * Starts the inspectors `options` asks for, loading each module only then: laying out the charts pulls
 * in dagre, and the Stately stream brings a WebSocket client and its serializers. On failure nothing
 * it started is left running.
 *
 * @example
 * ```ts
 * const { page } = await startInspectors({ port: 8088 }, new InspectionLog(), logger);
 * console.log(page?.url);
 * ```
 */
export async function startInspectors(options: InspectOptions, log: InspectionLog | undefined, logger: Logger): Promise<Inspectors> {
  const inspectors: Inspectors = {};
  if (log && options.port !== undefined) {
    const [{ startInspectorServer }, { inspectorCharts }] = await Promise.all([
      import('../inspector/inspectorServer.js'),
      import('../inspector/charts.js'),
    ]);
    inspectors.page = await startInspectorServer({ port: options.port, log, charts: inspectorCharts() });
    logger.info({ url: inspectors.page.url }, 'inspector listening');
  }
  if (options.stately) {
    try {
      const { startStatelyInspector } = await import('../inspector/statelyInspector.js');
      inspectors.stately = startStatelyInspector(logger);
    } catch (err) {
      await inspectors.page?.close();
      throw err;
    }
  }
  return inspectors;
}
