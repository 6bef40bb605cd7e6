/** Vehicles with plate and fleet label. Taps carry vehicle ids whether or not they are registered. */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../types';

type Db = Kysely<DB> | Transaction<DB>;

export interface VehicleRow {
  vehicle_id: string;
  plate: string | null;
  label: string | null;
}

/** Registers a vehicle or updates its plate/label (a null keeps the stored value); returns true when it was new. */
export async function upsertVehicle(db: Db, v: VehicleRow): Promise<boolean> {
  const row = await db
    .insertInto('vehicles')
    .values(v)
    .onConflict((oc) =>
      oc.column('vehicle_id').doUpdateSet({
        plate: sql<string | null>`coalesce(excluded.plate, vehicles.plate)`,
        label: sql<string | null>`coalesce(excluded.label, vehicles.label)`,
      }),
    )
    .returning(sql<boolean>`(xmax = 0)`.as('inserted'))
    .executeTakeFirstOrThrow();
  return row.inserted;
}

export async function findVehicles(db: Db): Promise<VehicleRow[]> {
  return db.selectFrom('vehicles').select(['vehicle_id', 'plate', 'label']).orderBy('vehicle_id').execute();
}
