/**
 * Writes the city as the platform imports it: `city/gtfs/` (routes with a city network),
 * `employers.csv`, `employees.csv`, `media.csv` in SPEC §5 columns, `riders.csv` (who registers in
 * the rider app) and `devices.csv` (validators and their vehicles).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SimCity } from './city.model';
import { csvLine } from './csv';

function table(header: string[], rows: (string | number | boolean | null)[][]): string {
  return csvLine(header) + rows.map((r) => csvLine(r)).join('');
}

export async function writeCityFiles(city: SimCity, dir: string): Promise<void> {
  const gtfs = join(dir, 'gtfs');
  await mkdir(gtfs, { recursive: true });
  const files: Record<string, string> = {
    'gtfs/agency.txt': table(
      ['agency_id', 'agency_name', 'agency_url', 'agency_timezone', 'agency_lang'],
      [['LLGJ', '吕梁公共交通有限公司', 'https://example.invalid/llgj', 'Asia/Shanghai', 'zh']],
    ),
    'gtfs/networks.txt': table(
      ['network_id', 'network_name'],
      [
        [city.cityNetworkId, '吕梁市区公交'],
        ['intercity', '城际线路'],
      ],
    ),
    'gtfs/routes.txt': table(
      ['route_id', 'agency_id', 'route_short_name', 'route_long_name', 'route_type', 'network_id'],
      city.routes.map((r) => [r.routeId, 'LLGJ', r.shortName, r.longName, 3, r.networkId]),
    ),
    'gtfs/route_networks.txt': table(
      ['network_id', 'route_id'],
      city.routes.map((r) => [r.networkId, r.routeId]),
    ),
    'gtfs/stops.txt': table(
      ['stop_id', 'stop_name', 'stop_lat', 'stop_lon'],
      city.stops.map((s) => [s.stopId, s.name, s.lat, s.lon]),
    ),
    'gtfs/calendar.txt': table(
      [
        'service_id',
        'monday',
        'tuesday',
        'wednesday',
        'thursday',
        'friday',
        'saturday',
        'sunday',
        'start_date',
        'end_date',
      ],
      [['ALL', 1, 1, 1, 1, 1, 1, 1, '20220101', '20301231']],
    ),
    'gtfs/trips.txt': table(
      ['route_id', 'service_id', 'trip_id'],
      city.routes.map((r) => [r.routeId, 'ALL', `${r.routeId}-T1`]),
    ),
    'gtfs/stop_times.txt': table(
      ['trip_id', 'arrival_time', 'departure_time', 'stop_id', 'stop_sequence'],
      city.routes.flatMap((r) =>
        r.stopIds.map((stopId, i) => {
          const t = `${String(6 + Math.floor((i * 3) / 60)).padStart(2, '0')}:${String((i * 3) % 60).padStart(2, '0')}:00`;
          return [`${r.routeId}-T1`, t, t, stopId, i + 1];
        }),
      ),
    ),
    'employers.csv': table(
      ['code', 'name', 'type', 'city_area'],
      city.employers.map((e) => [e.code, e.name, e.type, e.cityArea ? 'true' : 'false']),
    ),
    'employees.csv': table(
      ['id_number', 'name', 'employer_code', 'in_service_from', 'in_service_to'],
      city.persons.flatMap((p) =>
        p.employments.map((e) => [p.idNumber, p.name, e.employerCode, e.from, e.to ?? '']),
      ),
    ),
    'media.csv': table(
      ['id_number', 'media_type', 'media_kind', 'media_id', 'valid_from', 'valid_to'],
      city.persons.flatMap((p) =>
        p.registered
          ? p.media
              .filter((m) => m.validFrom !== null)
              .map((m) => [p.idNumber, m.type, m.kind ?? '', m.id, m.validFrom, m.validTo ?? ''])
          : [],
      ),
    ),
    'riders.csv': table(
      ['external_ref', 'id_number', 'name', 'phone'],
      city.persons.filter((p) => p.registered).map((p) => [p.ref, p.idNumber, p.name, p.phone]),
    ),
    'devices.csv': table(
      ['device_id', 'vehicle_id', 'route_id', 'plate'],
      city.vehicles.flatMap((v) => v.deviceIds.map((d) => [d, v.vehicleId, v.routeId, v.plate])),
    ),
  };
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
}
