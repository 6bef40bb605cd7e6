/** Route registry changes outside imports: the city-area flag of one route (R3). */
import { appendOutbox, setRouteCity, upsertVehicle } from '@ridetally/db';
import { AppError } from '@ridetally/http';
import type { RegistryDeps } from './deps';

/** Sets a route's city-area flag; returns whether it changed. The aggregator re-counts its riders. */
export async function setRouteCityFlag(deps: Pick<RegistryDeps, 'db' | 'now'>, routeId: string, isCity: boolean): Promise<boolean> {
  return deps.db.transaction().execute(async (trx) => {
    const before = await setRouteCity(trx, routeId, isCity, deps.now());
    if (before === undefined) throw new AppError('not_found', `no route ${routeId} is registered (import it with \`import gtfs\`)`);
    if (before !== isCity) await appendOutbox(trx, { topic: 'route', payload: { routeId } });
    return before !== isCity;
  });
}

/** Registers a vehicle (or updates its plate/label). Taps name vehicles whether or not they are registered. */
export async function registerVehicle(
  deps: Pick<RegistryDeps, 'db'>,
  v: { vehicleId: string; plate?: string | undefined; label?: string | undefined },
): Promise<{ created: boolean }> {
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(v.vehicleId)) {
    throw new AppError('validation_failed', 'vehicle id must be 1-64 letters, digits or _ . : -');
  }
  const created = await upsertVehicle(deps.db, { vehicle_id: v.vehicleId, plate: v.plate ?? null, label: v.label ?? null });
  return { created };
}
