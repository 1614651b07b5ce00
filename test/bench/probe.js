/**
 * Preloaded with `node -r test/bench/probe.js ...` into every measured process
 * (the collector and the SDK floor). At exit it writes this process's own
 * figures as JSON to the file named by BENCH_PROBE_OUT:
 * - cpu time (user + system), the kernel's peak resident set size and page faults, from
 *   process.resourceUsage(), which covers the whole life of the process;
 * - the highest V8 heap use, heap size and memory outside the heap (Buffers),
 *   and the highest size and use of each V8 heap space,
 *   seen by a light sampler (every 100 ms);
 * - time from process start to exit;
 * - the main thread's time: busy (from process start until its event loop started, then
 *   running callbacks) and idle (its event loop waiting for I/O or timers), from
 *   perf_hooks' event loop utilization. Busy + idle is about the process's uptime.
 * Plain JavaScript so it loads before ts-node and costs nothing to compile.
 */
'use strict';

const fs = require('fs');
const v8 = require('v8');
const { performance } = require('perf_hooks');

const out = process.env.BENCH_PROBE_OUT;
if (out) {
  // The variable must not leak into anything this process spawns.
  delete process.env.BENCH_PROBE_OUT;
  let peakHeapUsed = 0;
  let peakHeapTotal = 0;
  let peakExternal = 0;
  let peakRssSampled = 0;
  /** Highest MB committed (size) and used by each V8 heap space: where the heap peak was. */
  const spacePeaks = {};
  const sample = () => {
    const memory = process.memoryUsage();
    for (const space of v8.getHeapSpaceStatistics()) {
      const peak = (spacePeaks[space.space_name] ??= { sizeMB: 0, usedMB: 0 });
      peak.sizeMB = Math.max(peak.sizeMB, mb(space.space_size));
      peak.usedMB = Math.max(peak.usedMB, mb(space.space_used_size));
    }
    if (memory.heapUsed > peakHeapUsed) peakHeapUsed = memory.heapUsed;
    if (memory.heapTotal > peakHeapTotal) peakHeapTotal = memory.heapTotal;
    // Buffers and other memory outside the V8 heap (response bodies, file writes).
    if (memory.external > peakExternal) peakExternal = memory.external;
    if (memory.rss > peakRssSampled) peakRssSampled = memory.rss;
  };
  function mb(bytes) {
    return Math.round(bytes / 1e6);
  }
  const timer = setInterval(sample, 100);
  timer.unref();
  process.on('exit', (code) => {
    sample();
    const usage = process.resourceUsage();
    const loop = performance.eventLoopUtilization();
    const figures = {
      exitCode: code,
      uptimeMs: Math.round(process.uptime() * 1000),
      userCpuMs: Math.round(usage.userCPUTime / 1000),
      systemCpuMs: Math.round(usage.systemCPUTime / 1000),
      // resourceUsage().maxRSS is in kilobytes.
      peakRssBytes: usage.maxRSS * 1024,
      peakRssSampledBytes: peakRssSampled,
      peakHeapUsedBytes: peakHeapUsed,
      peakHeapTotalBytes: peakHeapTotal,
      peakExternalBytes: peakExternal,
      heapSpacePeaks: spacePeaks,
      minorPageFaults: usage.minorPageFault,
      majorPageFaults: usage.majorPageFault,
      mainThread: {
        busyMs: Math.round(Math.max(0, performance.nodeTiming.loopStart) + loop.active),
        idleMs: Math.round(loop.idle),
      },
    };
    try {
      fs.writeFileSync(out, JSON.stringify(figures));
    } catch {
      // The parent reports a missing probe file; an exit handler must not throw.
    }
  });
}
