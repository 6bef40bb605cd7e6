/**
 * Load driver for the ingest benchmark, run as its own process: keeps `concurrency` signed
 * requests in flight over keep-alive connections for `duration` seconds (after a warm-up), and
 * prints one JSON line with throughput and latency percentiles.
 *   node --import tsx load-driver.ts <url> <devices.json> <tapsPerRequest> <concurrency> <durationS> <warmupS> <seqBase>
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import { readFileSync } from 'node:fs';

const [url, devicesFile, tapsArg, concurrencyArg, durationArg, warmupArg, seqBaseArg] = process.argv.slice(2);
if (!url || !devicesFile) throw new Error('usage: load-driver <url> <devices.json> <taps> <concurrency> <durationS> <warmupS> <seqBase>');
const tapsPerRequest = Number(tapsArg ?? 50);
const concurrency = Number(concurrencyArg ?? 32);
const durationMs = Number(durationArg ?? 15) * 1000;
const warmupMs = Number(warmupArg ?? 2) * 1000;
let seqBase = Number(seqBaseArg ?? 0);

const devices = (JSON.parse(readFileSync(devicesFile, 'utf8')) as { deviceId: string; secret: string }[]).map((d) => ({ ...d, next: seqBase }));
const target = new URL('/v1/taps', url);
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const CARD_KINDS = ['normal', 'senior', 'discount', 'teacher'];

function buildBody(seq0: number): string {
  const now = Date.now();
  const taps = [];
  for (let i = 0; i < tapsPerRequest; i++) {
    const seq = seq0 + i;
    taps.push({
      seq,
      tappedAt: new Date(now - 60_000 + i).toISOString(),
      vehicleId: 'V0123',
      routeId: 'R1',
      stopId: `S${seq % 40}`,
      media: { type: 'transit_card', id: `3101${String(seq % 100_000_000).padStart(12, '0')}`, cardKind: CARD_KINDS[seq % 4] },
    });
  }
  return JSON.stringify({ taps });
}

interface Result {
  status: number;
  accepted: number;
  duplicates: number;
  ms: number;
}

function send(deviceId: string, secret: string, body: string): Promise<Result> {
  const ts = String(Math.floor(Date.now() / 1000));
  const signature = createHmac('sha256', secret).update(`${ts}.`).update(body).digest('hex');
  const started = performance.now();
  return new Promise((resolve) => {
    const req = http.request(
      target,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-device-id': deviceId, 'x-timestamp': ts, 'x-signature': signature },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          const ms = performance.now() - started;
          let accepted = 0;
          let duplicates = 0;
          if (res.statusCode === 200) {
            const j = JSON.parse(text) as { accepted: number; duplicates: number };
            accepted = j.accepted;
            duplicates = j.duplicates;
          }
          resolve({ status: res.statusCode ?? 0, accepted, duplicates, ms });
        });
      },
    );
    req.on('error', () => resolve({ status: 0, accepted: 0, duplicates: 0, ms: performance.now() - started }));
    req.end(body);
  });
}

const startMs = performance.now();
const measureFrom = startMs + warmupMs;
const endMs = measureFrom + durationMs;
const latencies: number[] = [];
let requests = 0;
let failed = 0;
let accepted = 0;
let duplicates = 0;
let totalAccepted = 0;
let totalRequests = 0;
let cursor = 0;
const cpuAtStart = process.cpuUsage();

async function worker(): Promise<void> {
  while (performance.now() < endMs) {
    const device = devices[cursor++ % devices.length]!;
    const seq0 = device.next;
    device.next += tapsPerRequest;
    const r = await send(device.deviceId, device.secret, buildBody(seq0));
    totalAccepted += r.accepted;
    totalRequests++;
    if (performance.now() - r.ms >= measureFrom && performance.now() <= endMs) {
      requests++;
      latencies.push(r.ms);
      if (r.status !== 200) failed++;
      accepted += r.accepted;
      duplicates += r.duplicates;
    }
  }
}

await Promise.all(Array.from({ length: concurrency }, () => worker()));
const cpu = process.cpuUsage(cpuAtStart);
agent.destroy();
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
seqBase = Math.max(...devices.map((d) => d.next));
process.stdout.write(
  JSON.stringify({
    tapsPerRequest,
    concurrency,
    durationS: durationMs / 1000,
    requests,
    failed,
    accepted,
    duplicates,
    totalAccepted,
    totalRequests,
    /** The driver's own CPU over the whole run (warm-up included), in seconds. */
    driverCpuS: (cpu.user + cpu.system) / 1e6,
    requestsPerS: requests / (durationMs / 1000),
    tapsPerS: accepted / (durationMs / 1000),
    p50Ms: pct(50),
    p99Ms: pct(99),
    nextSeq: seqBase,
  }) + '\n',
);
