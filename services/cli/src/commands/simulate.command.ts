/**
 * `ridetally simulate`: a synthetic city and its traffic (packages/simulator), written to files or
 * driven over HTTP against a running platform, with the ground truth written next to it.
 *
 *   simulate --seed 1 --scale 0.01 --days 91 --start 2022-04-01 --out sim/        files only
 *   simulate … --url http://localhost:8080 --out sim/                               drive a platform
 *
 * With --url the driver needs, besides the URL: device secrets and a rider-app client token. With
 * `--setup direct` (default) this command makes them itself in the platform's database (the
 * DATABASE_URL / DATA_DIR this CLI is configured with) and imports the city's GTFS, employers and
 * employee roster there; it keeps the credentials in <out>/devices.ndjson and <out>/client.json
 * (mode 0600) and reuses them on the next run. With `--setup none` it only reads them
 * (`--devices`, `--client-token` / RIDETALLY_CLIENT_TOKEN), for a platform whose database this
 * process cannot open (e.g. the embedded one while it runs: run `--setup-only` first, with the
 * platform stopped).
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { AppError } from '@ridetally/http';
import { setUpCity } from '@ridetally/registry';
import {
  createFilesSink,
  createTapPoster,
  generateCity,
  personsCsv,
  postRatings,
  registerRiders,
  runSimulation,
  toRatingRecord,
  writeCityFiles,
  writeGroundTruth,
  type SimCity,
  type TrafficSink,
} from '@ridetally/simulator';
import { generateDeviceSecret } from '@ridetally/tap-ingest';
import { CliError, withContext } from '../context';

interface SimulateOptions {
  seed: string;
  scale: string;
  days: string;
  start: string;
  out?: string;
  url?: string;
  rate?: string;
  concurrency: string;
  setup: string;
  setupOnly?: boolean;
  devices?: string;
  clientToken?: string;
  ratings: boolean;
  taps: boolean;
  batchMinutes: string;
}

interface Credentials {
  secrets: Map<string, string>;
  clientToken: string | undefined;
}

function parsePositive(name: string, text: string, integer: boolean): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n)))
    throw new CliError(`${name} must be a positive ${integer ? 'integer' : 'number'}`);
  return n;
}

function progressBar(label: string): cliProgress.SingleBar {
  return new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label.padEnd(10)} [{bar}] {percentage}% {value}/{total} {detail}`,
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: 10_000,
    },
    cliProgress.Presets.shades_classic,
  );
}

async function writeSecretFile(path: string, content: string): Promise<void> {
  await writeFile(path, content, { mode: 0o600 });
  await chmod(path, 0o600);
}

async function readDevicesFile(path: string): Promise<Map<string, string>> {
  const secrets = new Map<string, string>();
  const text = await readFile(path, 'utf8').catch(() => {
    throw new CliError(`${path}: cannot read the devices file`);
  });
  for (const [i, line] of text.split('\n').entries()) {
    if (!line.trim()) continue;
    const parsed = JSON.parse(line) as { deviceId?: unknown; secret?: unknown };
    if (typeof parsed.deviceId !== 'string' || typeof parsed.secret !== 'string')
      throw new CliError(`${path}:${i + 1}: expected {"deviceId": …, "secret": …}`);
    secrets.set(parsed.deviceId, parsed.secret);
  }
  return secrets;
}

/**
 * `--setup direct`: imports the city's registry files and creates what the driver needs in the
 * platform's database, through the same registry and repository functions as the CLI commands.
 */
async function setUpDirect(city: SimCity, out: string): Promise<Credentials> {
  const devicesFile = join(out, 'devices.ndjson');
  const clientFile = join(out, 'client.json');
  const secrets = existsSync(devicesFile) ? await readDevicesFile(devicesFile) : new Map<string, string>();
  let clientToken = existsSync(clientFile)
    ? (JSON.parse(await readFile(clientFile, 'utf8')) as { token: string }).token
    : undefined;
  await withContext(async ({ handle, keyring }) => {
    const deps = { db: handle.db, keyring, now: () => new Date() };
    const result = await setUpCity(deps, {
      cityDir: join(out, 'city'),
      cityNetworkId: city.cityNetworkId,
      vehicles: city.vehicles,
      knownSecrets: secrets,
      clientName: clientToken ? undefined : `simulator seed ${city.seed}`,
      generateSecret: generateDeviceSecret,
    }).catch((err: unknown) => {
      throw err instanceof AppError ? new CliError(err.message) : err;
    });
    for (const [deviceId, secret] of result.secrets) secrets.set(deviceId, secret);
    if (result.client) {
      clientToken = result.client.token;
      await writeSecretFile(clientFile, JSON.stringify(result.client) + '\n');
    }
  });
  await writeSecretFile(
    devicesFile,
    [...secrets].map(([deviceId, secret]) => JSON.stringify({ deviceId, secret })).join('\n') + '\n',
  );
  process.stderr.write(
    `setup: city imported, ${secrets.size} device secrets in ${devicesFile}, client token in ${clientFile}\n`,
  );
  return { secrets, clientToken };
}

async function readCredentials(out: string, opts: SimulateOptions): Promise<Credentials> {
  const devicesFile = opts.devices ?? join(out, 'devices.ndjson');
  const secrets = await readDevicesFile(devicesFile);
  let clientToken = opts.clientToken ?? process.env.RIDETALLY_CLIENT_TOKEN;
  if (!clientToken && existsSync(join(out, 'client.json'))) {
    clientToken = (JSON.parse(await readFile(join(out, 'client.json'), 'utf8')) as { token: string }).token;
  }
  return { secrets, clientToken };
}

async function simulateToFiles(city: SimCity, out: string, batchMinutes: number): Promise<void> {
  const bar = progressBar('days');
  bar.start(city.days, 0, { detail: '' });
  let taps = 0;
  const truth = await runSimulation(
    city,
    await createFilesSink(out),
    (p) => {
      taps += p.taps;
      bar.update(p.dayIndex + 1, { detail: `${p.date} ${taps.toLocaleString('en')} taps` });
    },
    { batchMinutes },
  );
  bar.stop();
  const periods = await writeGroundTruth(city, truth, join(out, 'ground-truth'));
  process.stdout.write(
    JSON.stringify({
      out,
      taps: truth.totals.taps,
      boardings: truth.totals.boardings,
      rides: truth.totals.rides,
      periods,
    }) + '\n',
  );
}

async function simulateOverHttp(
  city: SimCity,
  out: string,
  url: string,
  opts: SimulateOptions,
  credentials: Credentials,
): Promise<void> {
  if (!credentials.clientToken)
    throw new CliError(
      'a rider-app client token is needed: --client-token, RIDETALLY_CLIENT_TOKEN or --setup direct',
    );
  const concurrency = parsePositive('--concurrency', opts.concurrency, true);
  const rate = opts.rate === undefined ? undefined : parsePositive('--rate', opts.rate, false);
  const rider = { baseUrl: url, clientToken: credentials.clientToken, concurrency };

  const started = Date.now();
  const phaseSeconds: Record<string, number> = {};
  let phaseStart = Date.now();
  const endPhase = (name: string) => {
    phaseSeconds[name] = Math.round((Date.now() - phaseStart) / 100) / 10;
    phaseStart = Date.now();
  };
  const registered = city.persons.filter((p) => p.registered);
  const regBar = progressBar('riders');
  regBar.start(registered.length, 0, { detail: '' });
  const { personIds, stats: registration } = await registerRiders(rider, city.persons, (done) =>
    regBar.update(done),
  );
  regBar.stop();
  await writeFile(join(out, 'persons.csv'), personsCsv(personIds));
  endPhase('registration');

  const poster = createTapPoster({ baseUrl: url, secrets: credentials.secrets, concurrency, rate });
  const ratingsFile = join(out, 'ratings.ndjson');
  await writeFile(ratingsFile, '');
  const sink: TrafficSink = {
    async batches(batches) {
      // --no-taps: the taps are loaded some other way (e.g. the files driver's output, bulk-loaded).
      if (!opts.taps) return;
      for (const batch of batches) await poster.post(batch);
    },
    async ratings(ratings) {
      if (ratings.length)
        await writeFile(
          ratingsFile,
          ratings.map((r) => JSON.stringify(toRatingRecord(r))).join('\n') + '\n',
          { flag: 'a' },
        );
    },
  };
  const bar = progressBar('taps');
  bar.start(city.days, 0, { detail: '' });
  const tapsStarted = Date.now();
  const truth = await runSimulation(
    city,
    sink,
    (p) => {
      const seconds = (Date.now() - tapsStarted) / 1000;
      bar.update(p.dayIndex + 1, {
        detail: `${p.date} accepted ${poster.stats.accepted.toLocaleString('en')} (${Math.round(poster.stats.accepted / seconds)}/s), retries ${poster.stats.retries}`,
      });
    },
    { batchMinutes: parsePositive('--batch-minutes', opts.batchMinutes, false) },
  );
  await poster.drain();
  bar.stop();
  endPhase('taps');
  const periods = await writeGroundTruth(city, truth, join(out, 'ground-truth'));

  let ratings = undefined;
  if (opts.ratings) {
    const ratingBar = progressBar('ratings');
    ratingBar.start(city.days, 0, { detail: '' });
    let daysDone = 0;
    ratings = await postRatings(rider, ratingsFile, personIds, (s) =>
      ratingBar.update(++daysDone, { detail: `accepted ${s.accepted}` }),
    );
    ratingBar.stop();
    endPhase('ratings');
  }
  const report = {
    out,
    url,
    seconds: Math.round((Date.now() - started) / 1000),
    phaseSeconds,
    registration,
    taps: poster.stats,
    ratings,
    truth: truth.totals,
    periods,
  };
  await writeFile(join(out, 'http-report.json'), JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(JSON.stringify(report) + '\n');
  if (Object.keys(poster.stats.failed).length > 0)
    throw new CliError(`some tap batches failed for good: ${JSON.stringify(poster.stats.failed)}`);
}

export function registerSimulate(program: Command): void {
  program
    .command('simulate')
    .description(
      'generate a synthetic city and its traffic; write it to files or drive a running platform over HTTP; write the ground truth',
    )
    .option('--seed <n>', 'seed of the city and its traffic', '1')
    .option('--scale <s>', '1 = the plan: 456,000 residents, ~98,500 boardings a day', '0.01')
    .option('--days <d>', 'days to simulate', '91')
    .option('--start <date>', 'first day (Shanghai calendar)', '2022-04-01')
    .option('--out <dir>', 'output folder (city/, taps/, ratings.ndjson, ground-truth/, persons.csv)')
    .option('--url <base>', 'drive the platform at this URL instead of writing tap files')
    .option('--rate <taps_per_s>', 'with --url: upload at most this many taps per second')
    .option('--concurrency <n>', 'with --url: requests in flight', '8')
    .option(
      '--setup <mode>',
      'with --url: "direct" imports the city and creates devices and a client in the database; "none" reads them',
      'direct',
    )
    .option(
      '--setup-only',
      'with --setup direct: stop after the setup (e.g. before starting the embedded platform)',
    )
    .option(
      '--devices <file>',
      'with --setup none: NDJSON {"deviceId","secret"} lines (default <out>/devices.ndjson)',
    )
    .option(
      '--client-token <token>',
      'with --setup none: rider-app client token (or RIDETALLY_CLIENT_TOKEN, or <out>/client.json)',
    )
    .option('--no-ratings', 'with --url: do not post ratings')
    .option(
      '--no-taps',
      'with --url: register riders and post ratings, but do not post taps (they are loaded another way)',
    )
    .option(
      '--batch-minutes <m>',
      'validators upload every <m> minutes of taps (or 500 taps); larger means fewer requests',
      '20',
    )
    .action(async (opts: SimulateOptions) => {
      const scale = parsePositive('--scale', opts.scale, false);
      const days = parsePositive('--days', opts.days, true);
      if (!/^\d{4}-\d{2}-\d{2}$/.test(opts.start) || opts.start < '2022-04-01')
        throw new CliError('--start must be a date (yyyy-MM-dd) from 2022-04-01, the programme start');
      if (opts.setup !== 'direct' && opts.setup !== 'none')
        throw new CliError('--setup must be "direct" or "none"');
      const out = resolve(opts.out ?? (opts.url ? `simulation-${opts.seed}` : ''));
      if (!opts.out && !opts.url) throw new CliError('give --out <dir> (files) or --url <base> (HTTP)');
      const city = generateCity({ seed: opts.seed, scale, start: opts.start, days });
      await mkdir(out, { recursive: true });
      await writeCityFiles(city, join(out, 'city'));
      process.stderr.write(
        `city: ${city.persons.length} persons (${city.persons.filter((p) => p.registered).length} registered), ${city.employers.length} employers, ${city.routes.length} routes, ${city.vehicles.length} vehicles\n`,
      );
      if (!opts.url && !opts.setupOnly)
        return simulateToFiles(city, out, parsePositive('--batch-minutes', opts.batchMinutes, false));
      const credentials =
        opts.setup === 'direct' ? await setUpDirect(city, out) : await readCredentials(out, opts);
      if (opts.setupOnly) return;
      await simulateOverHttp(city, out, opts.url!, opts, credentials);
    });
}
