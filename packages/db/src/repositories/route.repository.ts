/** The route registry (R3): GTFS routes with the city-area flag (市区线路, incl. the airport bus). */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../types';

type Db = Kysely<DB> | Transaction<DB>;

export interface RouteRow {
  route_id: string;
  agency_id: string | null;
  short_name: string | null;
  long_name: string | null;
  route_type: number;
  network_id: string | null;
  is_city: boolean;
}

export async function findRoutes(db: Db, routeIds?: readonly string[]): Promise<RouteRow[]> {
  let q = db
    .selectFrom('routes')
    .select(['route_id', 'agency_id', 'short_name', 'long_name', 'route_type', 'network_id', 'is_city'])
    .orderBy('route_id');
  if (routeIds) {
    if (routeIds.length === 0) return [];
    q = q.where('route_id', '=', sql<string>`ANY(${routeIds as string[]}::text[])`);
  }
  return q.execute();
}

/** Inserts or replaces routes in one statement. */
export async function upsertRoutes(db: Db, routes: readonly RouteRow[], at: Date): Promise<void> {
  if (routes.length === 0) return;
  await sql`
    INSERT INTO routes (route_id, agency_id, short_name, long_name, route_type, network_id, is_city)
    SELECT * FROM unnest(
      ${routes.map((r) => r.route_id)}::text[],
      ${routes.map((r) => r.agency_id)}::text[],
      ${routes.map((r) => r.short_name)}::text[],
      ${routes.map((r) => r.long_name)}::text[],
      ${routes.map((r) => r.route_type)}::int[],
      ${routes.map((r) => r.network_id)}::text[],
      ${routes.map((r) => r.is_city)}::boolean[])
    ON CONFLICT (route_id) DO UPDATE SET
      agency_id = excluded.agency_id, short_name = excluded.short_name, long_name = excluded.long_name,
      route_type = excluded.route_type, network_id = excluded.network_id, is_city = excluded.is_city,
      updated_at = ${at}`.execute(db);
}

/** Sets one route's city-area flag; returns the previous flag, or undefined when the route is unknown. */
export async function setRouteCity(db: Db, routeId: string, isCity: boolean, at: Date): Promise<boolean | undefined> {
  const { rows } = await sql<{ before: boolean }>`
    UPDATE routes r SET is_city = ${isCity}, updated_at = ${at}
    FROM (SELECT route_id, is_city AS before FROM routes WHERE route_id = ${routeId} FOR UPDATE) old
    WHERE r.route_id = old.route_id
    RETURNING old.before`.execute(db);
  return rows[0]?.before;
}
