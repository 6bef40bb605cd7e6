/**
 * `import gtfs <dir> [--city-network <network_id>]`: routes from a GTFS feed (agency.txt, routes.txt
 * and, when present, networks.txt + route_networks.txt). GTFS has no "urban" flag: with a city
 * network only that network's routes are city-area (R3), without one every imported route is.
 * Routes already registered but absent from the feed are left alone. A new route, or one whose
 * city-area flag changes, gets a `route` outbox entry: taps recorded on it before it was registered
 * are then counted. All-or-nothing; problems name file and line.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { appendOutbox, findRoutes, upsertRoutes, type RouteRow } from '@ridetally/db';
import type { RegistryDeps } from '../deps';
import { bindColumns, type ImportProblem } from './import-common';
import { readTableFile, TableReadError, type Table } from './table-reader';

export interface GtfsProblem extends ImportProblem {
  file: string;
}

export interface GtfsImportResult {
  routes: number;
  cityRoutes: number;
  applied: boolean;
  problems: GtfsProblem[];
  changes: { created: number; updated: number; unchanged: number };
}

/** Reads the named columns (others ignored, as GTFS allows extra columns). */
function columns(table: Table, file: string, required: string[], optional: string[], problems: GtfsProblem[]) {
  const header = table.header.map((h) => h.trim());
  const present = [...required, ...optional].filter((c) => header.includes(c));
  const missing = required.filter((c) => !header.includes(c));
  for (const c of missing) problems.push({ file, line: table.headerLine, message: `missing column "${c}"` });
  // bindColumns wants exactly the listed columns: give it a header restricted to the ones we read.
  const restricted: Table = {
    header: present,
    headerLine: table.headerLine,
    rows: table.rows.map((r) => ({ line: r.line, cells: present.map((c) => r.cells[header.indexOf(c)] ?? '') })),
  };
  return bindColumns(restricted, present).rows;
}

async function readOptional(dir: string, file: string, problems: GtfsProblem[]): Promise<Table | undefined> {
  const path = join(dir, file);
  if (!existsSync(path)) return undefined;
  try {
    return await readTableFile(path, 'csv');
  } catch (err) {
    if (err instanceof TableReadError) {
      problems.push({ file, line: 1, message: err.message });
      return undefined;
    }
    throw err;
  }
}

export async function importGtfs(
  deps: Pick<RegistryDeps, 'db' | 'now'>,
  dir: string,
  options: { cityNetwork?: string | undefined } = {},
): Promise<GtfsImportResult> {
  const problems: GtfsProblem[] = [];
  const result: GtfsImportResult = { routes: 0, cityRoutes: 0, applied: false, problems, changes: { created: 0, updated: 0, unchanged: 0 } };
  for (const required of ['agency.txt', 'routes.txt']) {
    if (!existsSync(join(dir, required))) problems.push({ file: required, line: 0, message: `${required} is missing from ${dir}` });
  }
  if (problems.length) return result;
  const agencyTable = await readOptional(dir, 'agency.txt', problems);
  const routesTable = await readOptional(dir, 'routes.txt', problems);
  const networksTable = await readOptional(dir, 'networks.txt', problems);
  const routeNetworksTable = await readOptional(dir, 'route_networks.txt', problems);
  if (!agencyTable || !routesTable) return result;

  const agencies = new Set<string>();
  const agencyRows = columns(agencyTable, 'agency.txt', ['agency_name'], ['agency_id'], problems);
  for (const a of agencyRows) {
    if (!a.get('agency_name')) problems.push({ file: 'agency.txt', line: a.line, message: 'agency_name is empty' });
    if (a.row.cells.length && agencyRows.length > 1 && !a.get('agency_id')) {
      problems.push({ file: 'agency.txt', line: a.line, message: 'agency_id is required when the feed has several agencies' });
    }
    agencies.add(a.get('agency_id'));
  }

  const networks = new Set<string>();
  if (networksTable) {
    for (const n of columns(networksTable, 'networks.txt', ['network_id'], [], problems)) {
      if (!n.get('network_id')) problems.push({ file: 'networks.txt', line: n.line, message: 'network_id is empty' });
      networks.add(n.get('network_id'));
    }
  }
  if (routeNetworksTable && !networksTable) problems.push({ file: 'route_networks.txt', line: 1, message: 'route_networks.txt needs networks.txt' });
  const networkOf = new Map<string, { network: string; line: number }>();
  if (routeNetworksTable) {
    for (const rn of columns(routeNetworksTable, 'route_networks.txt', ['network_id', 'route_id'], [], problems)) {
      const network = rn.get('network_id');
      const routeId = rn.get('route_id');
      if (!networks.has(network)) problems.push({ file: 'route_networks.txt', line: rn.line, message: `network_id "${network.slice(0, 64)}" is not in networks.txt` });
      const prev = networkOf.get(routeId);
      if (prev) problems.push({ file: 'route_networks.txt', line: rn.line, message: `route ${routeId.slice(0, 64)} is already in a network (line ${prev.line}); a route belongs to one network` });
      else networkOf.set(routeId, { network, line: rn.line });
    }
  }
  if (options.cityNetwork !== undefined && !networks.has(options.cityNetwork)) {
    problems.push({
      file: 'networks.txt',
      line: 0,
      message: networksTable ? `--city-network "${options.cityNetwork.slice(0, 64)}" is not a network_id in networks.txt` : '--city-network needs networks.txt and route_networks.txt in the feed',
    });
  }

  const routes: RouteRow[] = [];
  const seen = new Map<string, number>();
  for (const r of columns(routesTable, 'routes.txt', ['route_id', 'route_type'], ['agency_id', 'route_short_name', 'route_long_name'], problems)) {
    const routeId = r.get('route_id');
    const rowProblems: string[] = [];
    if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(routeId)) rowProblems.push('route_id must be 1-64 letters, digits or _ . : -');
    if (seen.has(routeId)) rowProblems.push(`route_id ${routeId} is also on line ${seen.get(routeId)}`);
    seen.set(routeId, r.line);
    const type = r.get('route_type');
    if (!/^\d{1,4}$/.test(type)) rowProblems.push('route_type must be a whole number (3 = bus)');
    const shortName = r.get('route_short_name');
    const longName = r.get('route_long_name');
    if (!shortName && !longName) rowProblems.push('route_short_name or route_long_name is required');
    const agencyId = r.get('agency_id');
    if (agencyId && !agencies.has(agencyId)) rowProblems.push(`agency_id "${agencyId.slice(0, 64)}" is not in agency.txt`);
    for (const message of rowProblems) problems.push({ file: 'routes.txt', line: r.line, message });
    if (rowProblems.length) continue;
    const network = networkOf.get(routeId)?.network ?? null;
    routes.push({
      route_id: routeId,
      agency_id: agencyId || null,
      short_name: shortName || null,
      long_name: longName || null,
      route_type: Number(type),
      network_id: network,
      is_city: options.cityNetwork === undefined ? true : network === options.cityNetwork,
    });
  }
  for (const [routeId, { line }] of networkOf) {
    if (!seen.has(routeId)) problems.push({ file: 'route_networks.txt', line, message: `route_id "${routeId.slice(0, 64)}" is not in routes.txt` });
  }
  result.routes = routes.length;
  result.cityRoutes = routes.filter((r) => r.is_city).length;
  if (problems.length) {
    problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
    return result;
  }

  await deps.db.transaction().execute(async (trx) => {
    const existing = new Map((await findRoutes(trx, routes.map((r) => r.route_id))).map((r) => [r.route_id, r]));
    const write: RouteRow[] = [];
    const recount: string[] = [];
    for (const r of routes) {
      const old = existing.get(r.route_id);
      if (!old) {
        result.changes.created++;
        write.push(r);
        recount.push(r.route_id);
        continue;
      }
      const same = (Object.keys(r) as (keyof RouteRow)[]).every((k) => old[k] === r[k]);
      if (same) {
        result.changes.unchanged++;
        continue;
      }
      result.changes.updated++;
      write.push(r);
      if (old.is_city !== r.is_city) recount.push(r.route_id);
    }
    await upsertRoutes(trx, write, deps.now());
    await appendOutbox(trx, recount.map((routeId) => ({ topic: 'route' as const, payload: { routeId } })));
  });
  result.applied = true;
  return result;
}
