/** R14 passenger volume of city-area routes, by Shanghai month, from volume_daily. */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../types';

type Db = Kysely<DB> | Transaction<DB>;

/** Boardings per month (1-12) of a year on city-area routes (routes.is_city). Months with none are absent. */
export async function sumCityBoardingsByMonth(db: Db, year: number): Promise<{ month: number; boardings: number }[]> {
  const r = await sql<{ month: number; boardings: number }>`
    SELECT extract(month FROM v.service_date)::int AS month, sum(v.boardings)::bigint AS boardings
    FROM volume_daily v JOIN routes r ON r.route_id = v.route_id AND r.is_city
    WHERE v.service_date >= make_date(${year}::int, 1, 1) AND v.service_date < make_date(${year}::int + 1, 1, 1)
    GROUP BY 1 ORDER BY 1`.execute(db);
  return r.rows.map((x) => ({ month: Number(x.month), boardings: Number(x.boardings) }));
}
