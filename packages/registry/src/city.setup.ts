/**
 * Sets up a city written as registry files (GTFS folder, employers.csv, employees.csv — the layout
 * the simulator's `writeCityFiles` produces) directly in a platform's database: imports them,
 * registers the vehicles, creates one device per validator and a rider-app client. Used by the
 * CLI's `simulate --setup direct` and by the embedded platform's demo seed.
 *
 * Re-runnable: the imports upsert, vehicles are registered again, a device whose secret is already
 * known is left alone and one known without its secret gets a new secret; the client is created
 * only when no token is given.
 */
import { join } from 'node:path';
import { insertDevice, rotateDeviceSecret } from '@ridetally/db';
import { AppError } from '@ridetally/http';
import { createApiClient, type NewClientCredential } from './client.service';
import type { RegistryDeps } from './deps';
import { importEmployees } from './imports/employees.import';
import { importEmployers } from './imports/employers.import';
import { importGtfs } from './imports/gtfs.import';
import { readTableFile } from './imports/table-reader';
import { registerVehicle } from './route.service';

export interface CitySetupInput {
  /** Folder holding `gtfs/`, `employers.csv` and `employees.csv`. */
  cityDir: string;
  /** GTFS network id of the city lines (R3). */
  cityNetworkId: string;
  vehicles: readonly { vehicleId: string; plate?: string | undefined; deviceIds: readonly string[] }[];
  /** Device secrets already known (kept); the result holds these plus the new ones. */
  knownSecrets?: ReadonlyMap<string, string>;
  /** Name for a new rider-app client; none is created when `undefined`. */
  clientName?: string | undefined;
  /** A fresh device secret (tap-ingest's `generateDeviceSecret`). */
  generateSecret: () => string;
}

export interface CitySetupResult {
  secrets: Map<string, string>;
  /** Only when `clientName` was given. */
  client: NewClientCredential | undefined;
}

export async function setUpCity(deps: RegistryDeps, input: CitySetupInput): Promise<CitySetupResult> {
  const gtfs = await importGtfs(deps, join(input.cityDir, 'gtfs'), { cityNetwork: input.cityNetworkId });
  if (!gtfs.applied) {
    throw new AppError('validation_failed', `import gtfs: ${gtfs.problems.slice(0, 5).map((p) => `${p.file}:${p.line ?? ''} ${p.message}`).join('; ')}`);
  }
  for (const [what, run] of [
    ['employers', importEmployers],
    ['employees', importEmployees],
  ] as const) {
    const result = await run(deps, await readTableFile(join(input.cityDir, `${what}.csv`)), {});
    if (!result.applied) {
      throw new AppError('validation_failed', `import ${what}: ${result.problems.slice(0, 5).map((p) => `line ${p.line}: ${p.message}`).join('; ')}`);
    }
  }
  for (const vehicle of input.vehicles) await registerVehicle(deps, { vehicleId: vehicle.vehicleId, plate: vehicle.plate });
  const secrets = new Map(input.knownSecrets ?? []);
  for (const vehicle of input.vehicles) {
    for (const deviceId of vehicle.deviceIds) {
      if (secrets.has(deviceId)) continue;
      const secret = input.generateSecret();
      const ciphertext = deps.keyring.encrypt('device-secret', secret);
      // A device left by an earlier run without its secret on file gets a new one at once.
      const added = await insertDevice(deps.db, { deviceId, vehicleId: vehicle.vehicleId, secretCiphertext: ciphertext });
      if (!added && !(await rotateDeviceSecret(deps.db, deviceId, ciphertext, deps.now(), deps.now()))) {
        throw new AppError('conflict', `device ${deviceId} exists but is not active`);
      }
      secrets.set(deviceId, secret);
    }
  }
  const client = input.clientName === undefined ? undefined : await createApiClient(deps, input.clientName);
  return { secrets, client };
}
