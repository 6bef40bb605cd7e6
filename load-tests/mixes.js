/**
 * The rider-app and staff traffic mixes, shared by the k6 scripts (rider-app.js, staff.js) and the
 * Node load driver (node-driver/), so that both send the same requests in the same proportions.
 * Plain ES2017 with no k6 or Node imports: k6 and Node both import this file.
 *
 * Every numeric or text parameter can be overridden from the environment under the name given in
 * ENV_NAMES (k6: `k6 run -e RATE=80 rider-app.js`; driver: `RATE=80 pnpm bench:load`).
 */

/**
 * @typedef {{ method: 'GET' | 'POST', path: string, body?: object, name: string, expected: number[] }} RequestSpec
 * A request to send: `name` groups latencies (k6 tag `name`), `expected` are the statuses that
 * count as success.
 */

/**
 * @typedef {{ tapIds: Array<string | number>, tappedAt: string, rated: boolean, rateBy: string }} Ride
 * One ride of `GET /v1/persons/{personId}/rides` (fields the mix uses).
 */

export var RIDER_APP_MIX = {
  /**
   * Iterations per second (constant arrival rate). The whole mix is one API client (one token), so
   * rate × (1 + ratingShare) requests/s must stay under the service's RIDER_CLIENT_RATE_PER_S
   * (default 100/s, burst 200): above it the rider app answers 429, which counts as failed.
   */
  rate: 40,
  duration: '60s',
  preAllocatedVUs: 20,
  maxVUs: 200,
  /** Share of iterations that rate one of the rides they listed (the rest only list). */
  ratingShare: 0.25,
  /** The ride list asks for [listTo - listDays, listTo]; listTo '' means today (Shanghai). */
  listDays: 31,
  listTo: '',
  /** ratedAt = ride time + this delay (capped at now), so historical rides can be rated in-window. */
  ratingDelayMinutes: 90,
  p99Ms: 250,
  maxFailedRate: 0.01,
  maxDroppedIterations: 0,
};

export var STAFF_MIX = {
  rate: 2,
  duration: '60s',
  preAllocatedVUs: 4,
  maxVUs: 40,
  /** Relative weights of the request kinds, drawn once per iteration. */
  weights: { rankings: 55, rankingsFirstReached: 15, exportCsv: 15, exportXlsx: 5, signIn: 10 },
  /** Comma-separated periods drawn uniformly: quarters and years (SPEC R7-R9). */
  periods: '2022-Q3,2022-Q4,2022',
  rankingLimit: 2000,
  /** Staff API paths (services/reward). */
  signInPath: '/api/auth/login',
  rankingsPath: '/api/rankings',
  exportPath: '/api/rankings/export',
  p99Ms: 500,
  exportP99Ms: 5000,
  signInP99Ms: 2000,
  maxFailedRate: 0.01,
  maxDroppedIterations: 0,
};

/** Environment variable name of each parameter (same for k6 and the driver). */
export var ENV_NAMES = {
  rate: 'RATE',
  duration: 'DURATION',
  preAllocatedVUs: 'PRE_VUS',
  maxVUs: 'MAX_VUS',
  ratingShare: 'RATING_SHARE',
  listDays: 'LIST_DAYS',
  listTo: 'LIST_TO',
  ratingDelayMinutes: 'RATING_DELAY_MINUTES',
  periods: 'PERIODS',
  rankingLimit: 'RANKING_LIMIT',
  signInPath: 'SIGN_IN_PATH',
  rankingsPath: 'RANKINGS_PATH',
  exportPath: 'EXPORT_PATH',
  p99Ms: 'P99_MS',
  exportP99Ms: 'EXPORT_P99_MS',
  signInP99Ms: 'SIGN_IN_P99_MS',
  maxFailedRate: 'MAX_FAILED_RATE',
  maxDroppedIterations: 'MAX_DROPPED',
};

/**
 * A copy of `mix` with the environment's overrides applied; numbers stay numbers.
 * @template {Record<string, unknown>} T
 * @param {T} mix
 * @param {Record<string, string | undefined>} env
 * @returns {T}
 */
export function applyEnv(mix, env) {
  /** @type {Record<string, unknown>} */
  var out = {};
  var names = /** @type {Record<string, string>} */ (ENV_NAMES);
  Object.keys(mix).forEach(function (key) {
    var value = mix[key];
    var name = names[key];
    var raw = name ? env[name] : undefined;
    if (raw === undefined || raw === '') {
      out[key] = value;
    } else if (typeof value === 'number') {
      var n = Number(raw);
      if (!isFinite(n)) throw new Error(name + ' must be a number, got "' + raw + '"');
      out[key] = n;
    } else {
      out[key] = raw;
    }
  });
  return /** @type {T} */ (out);
}

/**
 * Draws a key of `weights` with probability proportional to its weight; `r` is uniform in [0, 1).
 * @param {Record<string, number>} weights
 * @param {number} r
 * @returns {string}
 */
export function pickWeighted(weights, r) {
  var keys = Object.keys(weights);
  var total = 0;
  keys.forEach(function (k) {
    total += weights[k];
  });
  var x = r * total;
  for (var i = 0; i < keys.length; i++) {
    x -= weights[keys[i]];
    if (x < 0) return keys[i];
  }
  return keys[keys.length - 1];
}

var SHANGHAI_OFFSET_MS = 8 * 3600 * 1000;
var DAY_MS = 24 * 3600 * 1000;

/**
 * The Shanghai calendar date (yyyy-MM-dd) of an instant.
 * @param {number} ms
 */
export function shanghaiDate(ms) {
  return new Date(ms + SHANGHAI_OFFSET_MS).toISOString().slice(0, 10);
}

/**
 * GET a person's rides over the mix's window.
 * @param {string} personId
 * @param {{ listDays: number, listTo: string }} mix
 * @param {number} nowMs
 * @returns {RequestSpec}
 */
export function rideListRequest(personId, mix, nowMs) {
  var to = mix.listTo || shanghaiDate(nowMs);
  var from = shanghaiDate(Date.parse(to + 'T00:00:00+08:00') - mix.listDays * DAY_MS);
  return {
    method: 'GET',
    path: '/v1/persons/' + encodeURIComponent(personId) + '/rides?from=' + from + '&to=' + to,
    name: 'GET /v1/persons/{personId}/rides',
    expected: [200],
  };
}

/**
 * The ride to rate: the first unrated ride that can still be rated at `ratedAt` (ride time +
 * delay, capped at now). Undefined when there is none.
 * @param {Ride[]} rides
 * @param {{ ratingDelayMinutes: number }} mix
 * @param {number} nowMs
 * @returns {{ ride: Ride, ratedAt: string } | undefined}
 */
export function chooseRideToRate(rides, mix, nowMs) {
  for (var i = 0; i < rides.length; i++) {
    var ride = rides[i];
    if (ride.rated || !ride.tapIds || ride.tapIds.length === 0) continue;
    var rideMs = Date.parse(ride.tappedAt);
    var ratedAtMs = Math.min(nowMs, rideMs + mix.ratingDelayMinutes * 60 * 1000);
    if (ratedAtMs < rideMs || ratedAtMs > Date.parse(ride.rateBy)) continue;
    return { ride: ride, ratedAt: new Date(ratedAtMs).toISOString() };
  }
  return undefined;
}

/**
 * POST a rating of one ride (by its first tap). 409 is expected too: another iteration may have
 * rated the same ride a moment earlier, and a second rating is refused by design (SPEC §4).
 * @param {string} personId
 * @param {{ ride: Ride, ratedAt: string }} choice
 * @param {number} r uniform in [0, 1), picks the score
 * @returns {RequestSpec}
 */
export function ratingRequest(personId, choice, r) {
  var scores = [5, 5, 5, 4, 4, 4, 3, 2, 1];
  return {
    method: 'POST',
    path: '/v1/rides/' + encodeURIComponent(choice.ride.tapIds[0]) + '/rating',
    body: { personId: personId, score: scores[Math.floor(r * scores.length)], ratedAt: choice.ratedAt },
    name: 'POST /v1/rides/{tapId}/rating',
    expected: [201, 409],
  };
}

/**
 * The staff request of one iteration.
 * @param {string} kind a key of STAFF_MIX.weights
 * @param {typeof STAFF_MIX} mix
 * @param {number} r uniform in [0, 1), picks the period
 * @param {{ username: string, password: string }} credentials
 * @returns {RequestSpec}
 */
export function staffRequest(kind, mix, r, credentials) {
  var periods = mix.periods.split(',');
  var period = encodeURIComponent(periods[Math.floor(r * periods.length)].trim());
  var limit = '&limit=' + mix.rankingLimit;
  switch (kind) {
    case 'signIn':
      return { method: 'POST', path: mix.signInPath, body: credentials, name: 'POST sign-in', expected: [200] };
    case 'rankingsFirstReached':
      return {
        method: 'GET',
        path: mix.rankingsPath + '?period=' + period + '&tiePolicy=first-reached' + limit,
        name: 'GET rankings',
        expected: [200],
      };
    case 'exportCsv':
      return { method: 'GET', path: mix.exportPath + '?period=' + period + '&format=csv', name: 'GET export', expected: [200] };
    case 'exportXlsx':
      return { method: 'GET', path: mix.exportPath + '?period=' + period + '&format=xlsx', name: 'GET export', expected: [200] };
    default:
      return { method: 'GET', path: mix.rankingsPath + '?period=' + period + limit, name: 'GET rankings', expected: [200] };
  }
}

/**
 * A secret file's content: a bare token, or the JSON that `pnpm ridetally client add --json`
 * prints (`{"clientId": ..., "token": ...}`).
 * @param {string} text
 * @returns {string}
 */
export function readToken(text) {
  var t = text.trim();
  if (t.charAt(0) === '{') {
    var parsed = JSON.parse(t);
    if (typeof parsed.token !== 'string') throw new Error('token file has no "token" field');
    return parsed.token;
  }
  return t;
}

/**
 * Person ids from a file: a JSON array (of ids or of `{ personId }`) or one id per line.
 * @param {string} text
 * @returns {string[]}
 */
export function readPersonIds(text) {
  var t = text.trim();
  /** @type {unknown[]} */
  var list = t.charAt(0) === '[' ? JSON.parse(t) : t.split(/\r?\n/);
  var ids = list
    .map(function (x) {
      return typeof x === 'object' && x !== null ? String(/** @type {{ personId: unknown }} */ (x).personId) : String(x).trim();
    })
    .filter(function (x) {
      return x.length > 0;
    });
  if (ids.length === 0) throw new Error('the persons file lists no person ids');
  return ids;
}
