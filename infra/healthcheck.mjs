/* global process, fetch, AbortSignal */
// Container health check without curl in the image: GET http://127.0.0.1:$PORT<path> and exit 0 on
// a 2xx answer within 2 s, 1 otherwise. Usage: node healthcheck.mjs [/readyz]
const path = process.argv[2] ?? '/readyz';
const port = process.env.PORT ?? '8080';
try {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) });
  process.exit(res.ok ? 0 : 1);
} catch {
  process.exit(1);
}
