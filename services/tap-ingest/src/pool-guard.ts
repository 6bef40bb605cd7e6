/**
 * node-postgres: a pooled client that is checked out has no 'error' listener (pg-pool removes its
 * idle listener), so a connection that dies in the middle of a query — PostgreSQL restarted, a
 * proxy cut — emits an unhandled 'error' and kills the process, although the query's own promise
 * already rejects. This attaches a permanent listener to every client the pool creates; the error
 * still reaches the caller through the rejected query (→ 503). Call it right after opening.
 * (Belongs in @ridetally/db's createPool; see the tap-ingest report.)
 */
import type { DatabaseHandle } from '@ridetally/db';

export function guardPoolClientErrors(handle: Pick<DatabaseHandle, 'pool'>): void {
  handle.pool?.on('connect', (client) => {
    client.on('error', () => undefined);
  });
}
