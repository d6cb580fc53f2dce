import { describe, expect, it } from 'vitest';
import type { Logger } from '../src/log.js';
import { RECOMMENDED_UDP_RECEIVE_BUFFER, udpReceiveBuffers, warnOfSmallUdpBuffers } from '../src/services/udpBuffers.js';

function recorder(): { logger: Logger; warnings: { fields: Record<string, unknown>; message: string }[] } {
  const warnings: { fields: Record<string, unknown>; message: string }[] = [];
  const logger = { warn: (fields: Record<string, unknown>, message: string) => warnings.push({ fields, message }) } as unknown as Logger;
  return { logger, warnings };
}

describe('UDP receive buffers', () => {
  it("reads the kernel's settings, and nothing where they cannot be read", () => {
    const files: Record<string, string> = { '/proc/sys/net/core/rmem_default': '212992\n', '/proc/sys/net/core/rmem_max': '4194304\n' };
    expect(udpReceiveBuffers((path) => files[path]!)).toEqual({ rmemDefault: 212992, rmemMax: 4194304 });
    expect(udpReceiveBuffers(() => { throw new Error('ENOENT'); })).toBeUndefined();
    expect(udpReceiveBuffers(() => 'garbage')).toBeUndefined();
  });

  it('warns once per process, with the sysctl that fixes it, and not when the buffers are large enough', () => {
    const { logger, warnings } = recorder();
    expect(warnOfSmallUdpBuffers(logger, { rmemDefault: RECOMMENDED_UDP_RECEIVE_BUFFER, rmemMax: RECOMMENDED_UDP_RECEIVE_BUFFER })).toBe(false);
    expect(warnings).toEqual([]);
    expect(warnOfSmallUdpBuffers(logger, { rmemDefault: 212992, rmemMax: 212992 })).toBe(true);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.fields).toEqual({ rmemDefault: 212992, rmemMax: 212992, recommended: RECOMMENDED_UDP_RECEIVE_BUFFER });
    expect(warnings[0]!.message).toContain(`sysctl -w net.core.rmem_default=${RECOMMENDED_UDP_RECEIVE_BUFFER} net.core.rmem_max=${RECOMMENDED_UDP_RECEIVE_BUFFER}`);
    expect(warnOfSmallUdpBuffers(logger, { rmemDefault: 212992, rmemMax: 212992 })).toBe(false);
    expect(warnings).toHaveLength(1);
  });
});
