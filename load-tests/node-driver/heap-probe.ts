/**
 * Preloaded into the services the local stack starts (`node --import tsx --import heap-probe.ts`):
 * when the process has an IPC channel, it sends its V8 heap figures to the load driver every 250 ms,
 * which /proc cannot show. Without a channel it does nothing. The channel and the timer are unref'd,
 * so the probe never keeps a process alive, and a failed send (driver gone) is ignored.
 */
const send = process.send?.bind(process);
if (send) {
  process.channel?.unref();
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    send({ rtHeap: { heapUsed: m.heapUsed, heapTotal: m.heapTotal } }, undefined, {}, () => undefined);
  }, 250);
  timer.unref();
}
