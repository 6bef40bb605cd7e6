/**
 * Issue 7, acceptance 2: a small city simulated for one whole quarter through the embedded platform
 * (`pnpm start` with no DATABASE_URL or REDIS_URL: PGlite in a fresh data folder, a generated master
 * key, the in-process aggregator), and `verify` finds zero differences.
 *
 * What it covers (sizes are the simulator's for seed 1, scale 0.0005, 2022-04-01 + 91 days = all of
 * 2022-Q2, the programme's first quarter): 41 persons, 28 of them registered in the rider app and
 * 13 employees of the 8 employers (every type); media of every kind (transit cards normal, teacher,
 * senior, discount; e-cards of the three issuers; QR; ID cards; seed 1 is one whose registered
 * riders hold all nine) with a lost card replaced mid-quarter
 * (and still tapped by whoever found it); the 5 routes incl. the airport bus and the non-city X1; 10
 * vehicles and their validators; about 4,500 taps and 1,800 ratings (late and refused ones among
 * them; figures of seed 7 at this scale).
 * Validators upload once a day (`--batch-minutes 1440`: fewer requests than every 20 min, same
 * taps); everything else is the defaults of `ridetally simulate`.
 *
 * The steps are the ones docs/tour.md gives a user. PGlite is opened by one process at a time, so
 * the CLI works on the folder only while the platform is stopped:
 *   1. platform stopped: `ridetally migrate`, `ridetally simulate --setup-only` (imports the city,
 *      creates the validators' secrets and a rider-app client into the folder);
 *   2. `pnpm start --no-demo` on the folder; `ridetally simulate --setup none --url …` drives it over
 *      HTTP: rider registrations and bindings, signed tap batches, ratings through the rating API;
 *      then the test waits until the platform's own aggregator has applied every outbox entry
 *      (`ridetally_outbox_pending 0` on /metrics) and none failed; Ctrl-C;
 *   3. platform stopped: `ridetally verify --against <out>` on the counts the aggregator made
 *      incrementally (no recompute before it): 0 count, 0 ranking, 0 volume differences; then
 *      `recompute --check` of the quarter and the year (compares, changes nothing): no difference;
 *      then one count of the ground truth is altered and `verify` must fail on exactly it.
 *
 * Part of `pnpm test`. Measured at the end of session 2 (2026-11-29 07:23 UTC, load average ~2):
 * the whole file in 106 s — migrate 9.5 s, setup 6 s, platform start 6.4 s, the HTTP part 62.6 s
 * (registration 2.5, taps 5.6, ratings 51.2), drain 0.02 s after it, verify 9.5 s, the two
 * `recompute --check` 11.3 s (docs/performance.md, "Embedded quarter").
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  embeddedEnv,
  interrupt,
  metricValue,
  runCli,
  startPlatform,
  waitForOutboxDrained,
  type Started,
} from './testing/platform-process';

const SIMULATION = ['--seed', '1', '--scale', '0.0005', '--days', '91', '--start', '2022-04-01'];
const PERIODS = ['2022-Q2', '2022'];

interface HttpReport {
  phaseSeconds: Record<string, number>;
  registration: { registered: number; bindings: number };
  taps: { requests: number; accepted: number; duplicates: number; failed: object };
  ratings: { ratings: number; accepted: number; refused: Record<string, number>; unresolved: number };
  truth: { taps: number; rides: { counted: number } };
  periods: string[];
}

function csvRows(text: string): string[][] {
  return text
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','));
}

describe(
  'a quarter through the embedded platform (issue 7)',
  () => {
    let dir = '';
    let platform: Started | undefined;
    const timings: Record<string, number> = {};
    afterAll(async () => {
      if (platform && platform.child.exitCode === null) platform.child.kill('SIGKILL');
      // The figures docs/performance.md quotes: wall-clock seconds by part.
      process.stdout.write(`embedded quarter, seconds by part: ${JSON.stringify(timings)}\n`);
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('simulates 2022-Q2 of a small city over HTTP and verifies it with zero differences', async () => {
      dir = await mkdtemp(join(tmpdir(), 'rt-embedded-quarter-'));
      const dataDir = join(dir, 'data');
      const out = join(dir, 'sim');
      const env = embeddedEnv(dataDir);
      const cli = async (part: string, args: string[]) => {
        const r = await runCli(args, env);
        timings[part] = Math.round(((timings[part] ?? 0) + r.seconds) * 10) / 10;
        return r;
      };

      // 1. The platform is stopped: the CLI opens the folder.
      const migrated = await cli('migrate', ['migrate']);
      expect(migrated.stderr).toBe('');
      expect(migrated.code).toBe(0);
      const setup = await cli('setup', ['simulate', ...SIMULATION, '--out', out, '--setup-only']);
      expect(setup.code, setup.stderr).toBe(0);
      expect(setup.stderr).toMatch(/city: 41 persons \(28 registered\), 8 employers, 5 routes, 10 vehicles/);
      const validators = csvRows(await readFile(join(out, 'city/devices.csv'), 'utf8')).length;
      expect(setup.stderr).toContain(`setup: city imported, ${validators} device secrets`);

      // The city is what the header says: every kind of medium, a replaced card, airport and non-city routes.
      const media = csvRows(await readFile(join(out, 'city/media.csv'), 'utf8'));
      expect(new Set(media.map(([, type, kind]) => `${type}:${kind}`))).toEqual(
        new Set([
          'transit_card:normal',
          'transit_card:teacher',
          'transit_card:senior',
          'transit_card:discount',
          'ecard:alipay',
          'ecard:lvliang_union',
          'ecard:cmcc_sim',
          'qr:',
          'id_card:',
        ]),
      );
      expect(media.some(([, type, , , , validTo]) => type === 'transit_card' && validTo !== '')).toBe(true);
      const routes = await readFile(join(out, 'city/gtfs/routes.txt'), 'utf8');
      expect(routes).toContain('机场巴士');
      expect(routes).toMatch(/,intercity\n?/);
      expect(
        new Set(csvRows(await readFile(join(out, 'city/employees.csv'), 'utf8')).map(([id]) => id)).size,
      ).toBe(13);

      // 2. The platform runs on the folder; the simulator drives it over HTTP only.
      let t = Date.now();
      platform = await startPlatform(dataDir, ['--no-demo']);
      timings.platformStart = (Date.now() - t) / 1000;
      const sim = await cli('simulateHttp', [
        'simulate',
        ...SIMULATION,
        '--out',
        out,
        '--setup',
        'none',
        '--url',
        platform.url,
        '--batch-minutes',
        '1440',
      ]);
      expect(sim.stderr).not.toMatch(/unexpected error/);
      expect(sim.code, sim.stderr.slice(-2000)).toBe(0);
      const report = JSON.parse(await readFile(join(out, 'http-report.json'), 'utf8')) as HttpReport;
      Object.assign(
        timings,
        Object.fromEntries(Object.entries(report.phaseSeconds).map(([k, v]) => [`http.${k}`, v])),
      );
      expect(report.registration.registered).toBe(28);
      expect(report.taps.accepted).toBe(report.truth.taps);
      expect(report.taps.failed).toEqual({});
      expect(report.truth.taps).toBeGreaterThan(3000);
      expect(report.truth.rides.counted).toBeGreaterThan(200);
      expect(report.ratings.accepted).toBeGreaterThan(1000);
      expect(report.ratings.unresolved).toBe(0);
      expect(report.periods.sort()).toEqual([...PERIODS].sort());

      t = Date.now();
      await waitForOutboxDrained(platform, 600_000);
      timings.drain = (Date.now() - t) / 1000;
      expect(
        await metricValue(platform.url, 'ridetally_aggregate_jobs_total', '{result="failed"}'),
      ).toBeUndefined();
      expect(
        await metricValue(platform.url, 'ridetally_aggregate_jobs_total', '{result="completed"}'),
      ).toBeGreaterThan(0);
      expect(await interrupt(platform)).toBe(0);

      // 3. The platform is stopped: the counts are the ones its aggregator made as the data came in.
      const verified = await cli('verify', ['verify', '--against', out]);
      expect(verified.stdout).toMatch(
        /2022, 2022-Q2 against .* \(persons by persons\.csv, 28 mapped\): 0 count, 0 ranking, 0 volume difference/,
      );
      expect(verified.code).toBe(0);
      for (const period of PERIODS) {
        const checked = await cli('recomputeCheck', ['recompute', '--period', period, '--check']);
        expect(checked.stdout, period).toContain('no differences');
        expect(checked.code, period).toBe(0);
      }

      // One ride more in the truth for the first person of the quarter: verify names it and exits 1.
      const file = join(out, 'ground-truth/counts-2022-Q2.csv');
      const [header, first, ...rest] = (await readFile(file, 'utf8')).trim().split('\n');
      const [ref, rides, ...others] = first!.split(',');
      await writeFile(
        file,
        [header, [ref, Number(rides) + 1, ...others].join(','), ...rest].join('\n') + '\n',
      );
      const altered = await cli('verify', ['verify', '--against', out, '--no-rankings', '--no-volume']);
      expect(altered.code).toBe(1);
      expect(altered.stdout).toContain(`counts  2022-Q2  ${ref} `);
      expect(altered.stdout).toContain(`expected ${Number(rides) + 1}  platform ${rides}`);
      expect(altered.stdout).toMatch(/1 count, 0 ranking, 0 volume difference/);
    }, 900_000);
  },
);
