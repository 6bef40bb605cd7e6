// @ts-check
/**
 * k6 load test of the validator endpoint (SPEC §3, POST /v1/taps): two constant-arrival-rate
 * scenarios, 50-tap batches and 1-tap requests, signed like a real validator.
 * Plain JavaScript, ES2017 (k6's runtime): see README.md for how to run it and make DEVICES_FILE.
 */
import http from 'k6/http';
import crypto from 'k6/crypto';
import { check } from 'k6';
import { Counter } from 'k6/metrics';

function envNumber(name, fallback) {
  var v = __ENV[name];
  return v === undefined || v === '' ? fallback : Number(v);
}

var BASE_URL = __ENV.BASE_URL || 'http://localhost:8080';
var DURATION = __ENV.DURATION || '1m';
var BATCH_SIZE = envNumber('BATCH_SIZE', 50);
var BATCH_RATE = envNumber('BATCH_RATE', 20); // requests per second, BATCH_SIZE taps each
var SINGLE_RATE = envNumber('SINGLE_RATE', 1000); // requests per second, 1 tap each
var BATCH_P99_MS = envNumber('BATCH_P99_MS', 500);
var SINGLE_P99_MS = envNumber('SINGLE_P99_MS', 50);
var MAX_VUS = envNumber('MAX_VUS', 200);
var SCENARIOS = (__ENV.SCENARIOS || 'batch,single').split(',');

if (!__ENV.DEVICES_FILE) throw new Error('DEVICES_FILE must name a JSON file: [{"deviceId": "...", "secret": "..."}, ...]');
/** @type {{ deviceId: string, secret: string }[]} */
var DEVICES = JSON.parse(open(__ENV.DEVICES_FILE));
if (!Array.isArray(DEVICES) || DEVICES.length === 0) throw new Error('DEVICES_FILE holds no devices');

var tapsAccepted = new Counter('taps_accepted');
var tapsDuplicate = new Counter('taps_duplicate');
var tapsRejected = new Counter('taps_rejected');

/** @type {Record<string, import('k6/options').Scenario>} */
var scenarios = {};
if (SCENARIOS.indexOf('batch') >= 0) {
  scenarios.batch = {
    executor: 'constant-arrival-rate',
    exec: 'batch',
    rate: BATCH_RATE,
    timeUnit: '1s',
    duration: DURATION,
    preAllocatedVUs: Math.min(MAX_VUS, Math.max(10, Math.ceil(BATCH_RATE / 5))),
    maxVUs: MAX_VUS,
  };
}
if (SCENARIOS.indexOf('single') >= 0) {
  scenarios.single = {
    executor: 'constant-arrival-rate',
    exec: 'single',
    rate: SINGLE_RATE,
    timeUnit: '1s',
    duration: DURATION,
    // after the batch scenario when both run, so each is measured alone
    startTime: scenarios.batch ? DURATION : '0s',
    preAllocatedVUs: Math.min(MAX_VUS, Math.max(10, Math.ceil(SINGLE_RATE / 50))),
    maxVUs: MAX_VUS,
  };
}

/** @type {import('k6/options').Options} */
export var options = {
  scenarios: scenarios,
  thresholds: {
    http_req_failed: ['rate<0.01'],
    'http_req_duration{scenario:batch}': ['p(99)<' + BATCH_P99_MS],
    'http_req_duration{scenario:single}': ['p(99)<' + SINGLE_P99_MS],
    dropped_iterations: ['count<1'],
    taps_rejected: ['count<1'],
  },
  discardResponseBodies: false,
};

// Each VU signs as one device with its own seq range (use at least MAX_VUS devices so no two VUs
// share one). The seq base is the start time in ms × 1000, so a new run never reuses a seq.
var device = DEVICES[(__VU - 1) % DEVICES.length];
var nextSeq = Date.now() * 1000;
var CARD_KINDS = ['normal', 'senior', 'discount', 'teacher'];

function makeTap(seq, nowMs) {
  return {
    seq: seq,
    tappedAt: new Date(nowMs - 30000).toISOString(),
    vehicleId: __ENV.VEHICLE_ID || 'V0123',
    routeId: 'R1',
    stopId: 'S' + (seq % 40),
    media: { type: 'transit_card', id: '3101' + String(seq % 1000000000000).padStart(12, '0'), cardKind: CARD_KINDS[seq % 4] },
  };
}

function post(size) {
  var now = Date.now();
  var taps = [];
  for (var i = 0; i < size; i++) taps.push(makeTap(nextSeq++, now));
  var body = JSON.stringify({ taps: taps });
  var timestamp = String(Math.floor(now / 1000));
  var signature = crypto.hmac('sha256', device.secret, timestamp + '.' + body, 'hex');
  var res = http.post(BASE_URL + '/v1/taps', body, {
    headers: { 'Content-Type': 'application/json', 'X-Device-Id': device.deviceId, 'X-Timestamp': timestamp, 'X-Signature': signature },
  });
  var ok = check(res, { 'status is 200': function (r) { return r.status === 200; } });
  if (ok) {
    var answer = /** @type {{ accepted: number, duplicates: number, rejected: unknown[] }} */ (res.json());
    tapsAccepted.add(answer.accepted);
    tapsDuplicate.add(answer.duplicates);
    tapsRejected.add(answer.rejected.length);
  }
}

export function batch() {
  post(BATCH_SIZE);
}

export function single() {
  post(1);
}
