/**
 * k6: staff using the reward service at a constant arrival rate — live rankings (both tie
 * policies), ranking exports (CSV, XLSX) and sign-ins, in the proportions of STAFF_MIX.weights.
 *
 *   k6 run -e BASE_URL=http://127.0.0.1:8082 \
 *          -e STAFF_USER=load-operator -e STAFF_PASSWORD_FILE=/secure/operator-password \
 *          [-e RATE=2 -e DURATION=60s -e PERIODS=2022-Q3,2022] \
 *          load-tests/staff.js
 *
 * The user needs a role that may read rankings and export them (operator). STAFF_PASSWORD_FILE is
 * read with open(), so the password never appears on a command line; paths are relative to this
 * script. setup() signs in once and every VU uses that session; the `signIn` share of iterations
 * signs in again to measure it. Every other parameter: mixes.js (STAFF_MIX, ENV_NAMES).
 */
import http from 'k6/http';
import { check, fail } from 'k6';
import { STAFF_MIX, applyEnv, pickWeighted, staffRequest } from './mixes.js';

var mix = applyEnv(STAFF_MIX, __ENV);
var BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');

if (!__ENV.STAFF_USER) throw new Error('set STAFF_USER to a staff username');
if (!__ENV.STAFF_PASSWORD_FILE) throw new Error('set STAFF_PASSWORD_FILE to the file holding its password');
var CREDENTIALS = { username: __ENV.STAFF_USER, password: open(__ENV.STAFF_PASSWORD_FILE).replace(/\r?\n$/, '') };

export var options = {
  scenarios: {
    staff: {
      executor: 'constant-arrival-rate',
      rate: mix.rate,
      timeUnit: '1s',
      duration: mix.duration,
      preAllocatedVUs: mix.preAllocatedVUs,
      maxVUs: mix.maxVUs,
    },
  },
  thresholds: {
    http_req_failed: ['rate<' + mix.maxFailedRate],
    'http_req_duration{name:GET rankings}': ['p(99)<' + mix.p99Ms],
    'http_req_duration{name:GET export}': ['p(99)<' + mix.exportP99Ms],
    'http_req_duration{name:POST sign-in}': ['p(99)<' + mix.signInP99Ms],
    dropped_iterations: ['count<=' + mix.maxDroppedIterations],
  },
};

/**
 * @param {import('./mixes.js').RequestSpec} spec
 * @param {string} token
 */
function send(spec, token) {
  /** @type {Record<string, string>} */
  var headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = 'Bearer ' + token;
  return http.request(spec.method, BASE_URL + spec.path, spec.body ? JSON.stringify(spec.body) : null, {
    headers: headers,
    tags: { name: spec.name },
    responseCallback: http.expectedStatuses.apply(null, spec.expected),
  });
}

export function setup() {
  var res = send(staffRequest('signIn', mix, 0, CREDENTIALS), '');
  var body = res.status === 200 ? /** @type {{ token?: string }} */ (res.json()) : null;
  if (!body || typeof body.token !== 'string') fail('sign-in as ' + CREDENTIALS.username + ' failed with status ' + res.status);
  return { token: /** @type {{ token: string }} */ (body).token };
}

/**
 * @param {{ token: string }} data
 */
export default function (data) {
  var kind = pickWeighted(mix.weights, Math.random());
  var spec = staffRequest(kind, mix, Math.random(), CREDENTIALS);
  var res = send(spec, kind === 'signIn' ? '' : data.token);
  /** @type {Record<string, (r: import('k6/http').RefinedResponse<import('k6/http').ResponseType | undefined>) => boolean>} */
  var checks = {};
  checks[spec.name + ' ' + spec.expected.join('|')] = function (r) {
    return spec.expected.indexOf(r.status) >= 0;
  };
  check(res, checks);
}
