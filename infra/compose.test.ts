/**
 * Checks infra/compose.yaml, the Postgres/Redis/HAProxy settings and the Dockerfile without a
 * container engine: the file parses (anchors and merge keys included), services wire up (depends_on
 * targets, mounts, the one image, health checks), the data stores carry the settings SPEC §6 needs,
 * the Postgres connection budget covers replicas × pool sizes, and HAProxy reaches every HTTP
 * service on the port it listens on.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
// infra/ is not a workspace package; the schema is read from its source.
import { EnvSchema } from '../packages/config/src/index';

const INFRA = import.meta.dirname;
const ROOT = join(INFRA, '..');

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: string[]; disable?: boolean };
  deploy?: { replicas?: number; resources?: { limits?: { cpus?: string; memory?: string } } };
  ports?: string[];
  volumes?: string[];
  restart?: string;
}
interface Compose {
  name: string;
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
}

function loadCompose(): Compose {
  const doc = parseDocument(readFileSync(join(INFRA, 'compose.yaml'), 'utf8'), { merge: true, prettyErrors: true });
  if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join('; '));
  if (doc.warnings.length > 0) throw new Error(doc.warnings.map((e) => e.message).join('; '));
  return doc.toJS({ maxAliasCount: 100 }) as Compose;
}

/** `key value` lines of a postgresql.conf / redis.conf, comments dropped, later lines winning. */
function readConf(file: string, sep: RegExp): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of readFileSync(join(INFRA, file), 'utf8').split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) continue;
    const m = sep.exec(line);
    if (!m) throw new Error(`${file}: cannot read "${line}"`);
    out.set(m[1]!.toLowerCase(), m[2]!.trim().replace(/^'(.*)'$/, '$1'));
  }
  return out;
}

const compose = loadCompose();
const services = compose.services;
const APP_SERVICES = ['migrate', 'tap-ingest', 'aggregator', 'rider-app', 'reward'];
const LONG_RUNNING = APP_SERVICES.filter((s) => s !== 'migrate');
const pg = readConf('postgres/postgresql.conf', /^([a-z_.]+)\s*=\s*(.+)$/i);
const redis = readConf('redis/redis.conf', /^([a-z-]+)\s+(.+)$/i);

describe('infra/compose.yaml', () => {
  it('has the data stores, the migration, every service and the load balancer', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['aggregator', 'lb', 'migrate', 'postgres', 'redis', 'reward', 'rider-app', 'tap-ingest'].sort(),
    );
    expect(services['tap-ingest']!.deploy?.replicas).toBeGreaterThanOrEqual(2);
    expect(services.aggregator!.deploy?.replicas).toBeGreaterThanOrEqual(2);
  });

  it('runs PostgreSQL >= 14 and Redis >= 6.2', () => {
    const pgMajor = Number(/^postgres:(\d+)/.exec(services.postgres!.image ?? '')?.[1]);
    expect(pgMajor).toBeGreaterThanOrEqual(14);
    const [major, minor] = (/^redis:(\d+)\.(\d+)/.exec(services.redis!.image ?? '') ?? []).slice(1).map(Number);
    expect(major! * 100 + minor!).toBeGreaterThanOrEqual(602);
  });

  it('configures Redis for queues: noeviction and an fsynced append-only file', () => {
    expect(redis.get('maxmemory-policy')).toBe('noeviction');
    expect(redis.get('appendonly')).toBe('yes');
    expect(redis.get('appendfsync')).toBe('everysec');
    expect(services.redis!.command).toContain('/usr/local/etc/redis/redis.conf');
    expect(services.redis!.volumes).toContain('./redis/redis.conf:/usr/local/etc/redis/redis.conf:ro');
  });

  it('configures PostgreSQL for durable commits and loads that file', () => {
    expect(pg.get('synchronous_commit')).toBe('on');
    expect(pg.get('fsync')).toBe('on');
    expect(pg.get('full_page_writes')).toBe('on');
    expect(pg.get('shared_buffers')).toMatch(/^\d+(MB|GB)$/);
    expect(services.postgres!.command).toContain('config_file=/etc/postgresql/postgresql.conf');
    expect(services.postgres!.volumes).toContain('./postgres/postgresql.conf:/etc/postgresql/postgresql.conf:ro');
  });

  it('sizes max_connections for every replica’s pool, with room to scale ingest', () => {
    let budget = 0;
    for (const name of APP_SERVICES) {
      const s = services[name]!;
      const pool = Number(s.environment?.DATABASE_POOL_SIZE);
      expect(pool, `${name} sets DATABASE_POOL_SIZE`).toBeGreaterThan(0);
      budget += (s.deploy?.replicas ?? 1) * pool;
    }
    const usable = Number(pg.get('max_connections')) - Number(pg.get('superuser_reserved_connections') ?? 3);
    // Headroom: tap-ingest scaled to twice its replicas, plus psql and monitoring.
    const ingest = services['tap-ingest']!;
    const headroom = (ingest.deploy?.replicas ?? 1) * Number(ingest.environment?.DATABASE_POOL_SIZE) + 5;
    expect(budget + headroom).toBeLessThanOrEqual(usable);
  });

  it('builds one image for every ridetally process and picks the process by command', () => {
    const entrypoint = readFileSync(join(INFRA, 'docker-entrypoint.sh'), 'utf8');
    for (const name of APP_SERVICES) {
      const s = services[name]!;
      expect(s.image, name).toBe(services['tap-ingest']!.image);
      expect(s.build?.dockerfile, name).toBe('infra/Dockerfile');
      expect(join(INFRA, s.build!.context), name).toBe(ROOT);
      expect(s.command?.[0], name).toBe(name);
      expect(entrypoint, `entrypoint handles ${name}`).toMatch(new RegExp(`(^|[\\s|])${name}([\\s|)])`, 'm'));
    }
  });

  it('migrates once before the services start and never on their start', () => {
    expect(services.migrate!.restart).toBe('no');
    expect(services.migrate!.depends_on?.postgres?.condition).toBe('service_healthy');
    for (const name of LONG_RUNNING) {
      const deps = services[name]!.depends_on ?? {};
      expect(deps.migrate?.condition, name).toBe('service_completed_successfully');
      expect(deps.postgres?.condition, name).toBe('service_healthy');
      expect(deps.redis?.condition, name).toBe('service_healthy');
    }
  });

  it('health-checks every long-running container; app services on /readyz', () => {
    for (const name of ['postgres', 'redis', 'lb', ...LONG_RUNNING]) {
      const hc = services[name]!.healthcheck;
      expect(hc?.test?.length, name).toBeGreaterThan(0);
      expect(hc?.disable, name).not.toBe(true);
    }
    // HTTP services on /readyz (database and Redis answer); the worker serves only /healthz.
    for (const name of LONG_RUNNING.filter((n) => n !== 'aggregator')) expect(services[name]!.healthcheck?.test, name).toContain('/readyz');
    expect(services.aggregator!.healthcheck?.test).toContain('/healthz');
    expect(services.aggregator!.environment?.AGGREGATOR_METRICS_PORT).toBe(services.aggregator!.environment?.PORT);
  });

  it('passes only variables the config schema knows, and every secret from the environment', () => {
    const known = new Set([...Object.keys(EnvSchema.shape), 'NODE_OPTIONS']);
    // The aggregator reads a few variables of its own (services/aggregator/src/main.ts).
    const aggregatorMain = readFileSync(join(ROOT, 'services/aggregator/src/main.ts'), 'utf8');
    for (const name of APP_SERVICES) {
      const env = services[name]!.environment ?? {};
      for (const key of Object.keys(env)) {
        const ok = known.has(key) || (name === 'aggregator' && key.startsWith('AGGREGATOR_') && aggregatorMain.includes(`${key}:`));
        expect(ok, `${name}: ${key}`).toBe(true);
      }
      expect(env.DATABASE_URL, name).toMatch(/^postgres:\/\/ridetally:\$\{POSTGRES_PASSWORD:\?[^}]*\}@postgres:5432\//);
      expect(env.REDIS_URL, name).toMatch(/^redis:\/\/:\$\{REDIS_PASSWORD:\?[^}]*\}@redis:6379$/);
      expect(env.RIDETALLY_MASTER_KEY, name).toMatch(/^\$\{RIDETALLY_MASTER_KEY:\?[^}]*\}$/);
    }
  });

  it('declares the named volumes it mounts and ships the files it bind-mounts', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const v of s.volumes ?? []) {
        const source = v.split(':')[0]!;
        if (source.startsWith('.')) expect(existsSync(join(INFRA, source)), `${name}: ${source}`).toBe(true);
        else expect(Object.keys(compose.volumes), `${name}: ${source}`).toContain(source);
      }
      for (const dep of Object.keys(s.depends_on ?? {})) expect(Object.keys(services), `${name} → ${dep}`).toContain(dep);
    }
  });

  it('publishes only the load balancer', () => {
    for (const [name, s] of Object.entries(services)) {
      if (name === 'lb') continue;
      expect(s.ports, name).toBeUndefined();
    }
    expect(services.lb!.ports).toEqual(['8080:8080', '8081:8081', '8082:8082', '127.0.0.1:8404:8404']);
  });
});

describe('infra/haproxy/haproxy.cfg', () => {
  const cfg = readFileSync(join(INFRA, 'haproxy/haproxy.cfg'), 'utf8');
  const templates = [...cfg.matchAll(/^\s*server-template\s+\S+\s+(\d+)\s+([\w-]+):(\d+)/gm)].map((m) => ({
    slots: Number(m[1]),
    host: m[2]!,
    port: m[3]!,
  }));

  it('balances every HTTP service, with slots for more than its replicas, on the port it listens on', () => {
    expect(templates.map((t) => t.host).sort()).toEqual(['reward', 'rider-app', 'tap-ingest']);
    for (const t of templates) {
      const s = services[t.host]!;
      expect(t.port, t.host).toBe(s.environment?.PORT);
      expect(t.slots, t.host).toBeGreaterThan(s.deploy?.replicas ?? 1);
    }
  });

  it('health-checks replicas on /readyz and uses Docker DNS for new replicas', () => {
    expect(cfg.match(/option httpchk GET \/readyz/g)).toHaveLength(templates.length);
    expect(cfg).toMatch(/nameserver \w+ 127\.0\.0\.11:53/);
    expect(cfg).toMatch(/default-server .*resolvers docker/);
  });
});

describe('infra/Dockerfile', () => {
  const dockerfile = readFileSync(join(INFRA, 'Dockerfile'), 'utf8');

  it('is multi-stage, installs from the lockfile and runs through the entrypoint', () => {
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/pnpm install --frozen-lockfile/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["ridetally-entrypoint"\]$/m);
    for (const m of dockerfile.matchAll(/^COPY (?:--\S+ )*(infra\/\S+) /gm)) {
      expect(existsSync(join(ROOT, m[1]!)), m[1]).toBe(true);
    }
  });

  it('uses the Node major the workspace requires', () => {
    const nodeVersion = /^ARG NODE_VERSION=(\d+)\.(\d+)/m.exec(dockerfile);
    const engines = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
    const [, major, minor] = /(\d+)\.(\d+)/.exec(engines)!;
    expect(Number(nodeVersion?.[1])).toBe(Number(major));
    expect(Number(nodeVersion?.[2])).toBeGreaterThanOrEqual(Number(minor));
  });
});
