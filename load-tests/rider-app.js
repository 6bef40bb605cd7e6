/**
 * k6: the rider app backend (掌上公交) calling the rider-app API at a constant arrival rate. Each
 * iteration lists one person's rides; a share of iterations then rates one of them (SPEC §4).
 *
 *   k6 run -e BASE_URL=http://127.0.0.1:8081 \
 *          -e CLIENT_TOKEN_FILE=/secure/rider-client.json \
 *          -e PERSONS_FILE=/data/person-ids.json \
 *          [-e RATE=40 -e DURATION=60s -e RATING_SHARE=0.25 -e LIST_TO=2022-09-30 -e LIST_DAYS=31] \
 *          load-tests/rider-app.js
 *
 * CLIENT_TOKEN_FILE: the output of `pnpm ridetally client add --name load --json` (or the bare
 * token). PERSONS_FILE: person ids (JSON array or one per line) of persons with rides in the
 * window. Files are read with open(), so the token never appears on a command line. Paths are
 * relative to this script. Every other parameter: mixes.js (RIDER_APP_MIX, ENV_NAMES).
 */
import http from 'k6/http';
import { check, fail } from 'k6';
import { Counter } from 'k6/metrics';
import {
  RIDER_APP_MIX,
  applyEnv,
  chooseRideToRate,
  rideListRequest,
  ratingRequest,
  readPersonIds,
  readToken,
} from './mixes.js';

var mix = applyEnv(RIDER_APP_MIX, __ENV);
var BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');

if (!__ENV.CLIENT_TOKEN_FILE) throw new Error('set CLIENT_TOKEN_FILE to the file holding the rider-app client token');
if (!__ENV.PERSONS_FILE) throw new Error('set PERSONS_FILE to a file of person ids');
var TOKEN = readToken(open(__ENV.CLIENT_TOKEN_FILE));
var PERSON_IDS = readPersonIds(open(__ENV.PERSONS_FILE));

var ratingsPosted = new Counter('ratings_posted');
var ratingsSkipped = new Counter('ratings_no_rateable_ride');

export var options = {
  discardResponseBodies: false,
  scenarios: {
    rider_app: {
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
    http_req_duration: ['p(99)<' + mix.p99Ms],
    'http_req_duration{name:GET /v1/persons/{personId}/rides}': ['p(99)<' + mix.p99Ms],
    'http_req_duration{name:POST /v1/rides/{tapId}/rating}': ['p(99)<' + mix.p99Ms],
    // The arrival rate was not met (too few VUs or a saturated server): that is a failed run too.
    dropped_iterations: ['count<=' + mix.maxDroppedIterations],
  },
};

/**
 * @param {import('./mixes.js').RequestSpec} spec
 */
function send(spec) {
  return http.request(spec.method, BASE_URL + spec.path, spec.body ? JSON.stringify(spec.body) : null, {
    headers: { Authorization: 'Bearer ' + TOKEN, 'Content-Type': 'application/json' },
    tags: { name: spec.name },
    responseCallback: http.expectedStatuses.apply(null, spec.expected),
  });
}

export default function () {
  var personId = PERSON_IDS[Math.floor(Math.random() * PERSON_IDS.length)];
  var list = send(rideListRequest(personId, mix, Date.now()));
  var listed = check(list, {
    'ride list 200': function (r) {
      return r.status === 200;
    },
  });
  if (!listed || Math.random() >= mix.ratingShare) return;

  var body = /** @type {{ rides?: import('./mixes.js').Ride[] }} */ (list.json());
  if (!body || !Array.isArray(body.rides)) fail('ride list without a rides array');
  var choice = chooseRideToRate(body.rides || [], mix, Date.now());
  if (!choice) {
    ratingsSkipped.add(1);
    return;
  }
  var rated = send(ratingRequest(personId, choice, Math.random()));
  check(rated, {
    'rating 201 (or 409 when rated meanwhile)': function (r) {
      return r.status === 201 || r.status === 409;
    },
  });
  if (rated.status === 201) ratingsPosted.add(1);
}
