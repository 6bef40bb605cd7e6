/**
 * The fast part of the fault suite inside `pnpm test`: FLUSHALL of a private Redis mid-load with
 * 2 tap-ingest + 3 aggregator processes on a test database of the shared PostgreSQL (which is never
 * stopped; the PostgreSQL restart runs only in `pnpm test:faults`, on a private server). The full
 * suite, every fault at a larger size: `pnpm test:faults`.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../packages/db/src/testing/index';
import { runFaultScenario, sizeFromEnv } from './fault-scenario';
import { replaceSection, writeFaultSection } from './reliability-doc';
import { formatTable } from './results-table';
import { summarizeLoad } from './run-context';

describe('fault suite (small)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase(2);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('FLUSHALL mid-load: every acknowledged tap stored once, counts equal the recompute and the ground truth', async () => {
    const size = {
      ...sizeFromEnv({}),
      scale: 0.004,
      days: 2,
      rate: 150,
      faultAfterMs: 2000,
    };
    const result = await runFaultScenario(
      'redis-flushall',
      size,
      { kind: 'url', url: db.url, migrated: true },
      () => {},
    );
    expect(result.notes.filter((n) => n.startsWith('error') || n.startsWith('load ('))).toEqual([]);
    expect(result.acked).toBeGreaterThan(300);
    expect(result.missing).toBe(0);
    expect(result.duplicates).toBe(0);
    expect(result.differences).toBe(0);
    expect(result.passed).toBe(true);
  }, 150_000);
});

describe('results in docs/reliability.md', () => {
  const result = {
    fault: 'replay' as const,
    acked: 10,
    stored: 10,
    missing: 0,
    duplicates: 0,
    differences: 0,
    passed: true,
    seconds: 3,
    notes: [],
  };

  it('appends the section and keeps the other sections', () => {
    const doc = '# Reliability\n\n## Bad input and abuse\n\ntheirs\n';
    const once = replaceSection(doc, `## Fault tests\n\n${formatTable([result])}\n`);
    expect(once).toContain('## Bad input and abuse\n\ntheirs\n');
    expect(once).toMatch(/## Fault tests\n\n\| fault +\| taps acked/);
    expect(once).toContain('| replay ');
  });

  it('says which commit the run was on, what was uncommitted and the load average', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rt-faults-doc-'));
    try {
      const file = join(dir, 'reliability.md');
      await writeFile(file, '# Reliability\n\n## Bad input and abuse\n\ntheirs\n');
      const run = {
        startedAt: new Date('2026-11-29T08:05:00Z'),
        commit: 'abc1234',
        uncommitted: ['services/aggregator/src/main.ts'],
        load: summarizeLoad([2, 4, 12]),
      };
      await writeFaultSection(file, [{ ...result, load: 6.25 }], sizeFromEnv({}), 61, run);
      const doc = await readFile(file, 'utf8');
      expect(doc).toContain('## Bad input and abuse\n\ntheirs\n');
      expect(doc).toContain('started 2026-11-29 08:05 UTC');
      expect(doc).toContain('1 of 1 scenarios passed, 61 s in all');
      expect(doc).toContain('commit abc1234 **with uncommitted changes** (services/aggregator/src/main.ts)');
      expect(doc).toContain('load average 6.0 (2.0–12.0)');
      expect(doc).toMatch(/\| replay +\| 10 .*\| pass +\| 3 +\| 6\.3 +\|/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('replaces only its own section on the next run, wherever it is', () => {
    const doc = '# Reliability\n\n## Fault tests\n\nold table\n\n## Bad input and abuse\n\ntheirs\n';
    const next = replaceSection(doc, '## Fault tests\n\nnew table\n');
    expect(next).not.toContain('old table');
    expect(next).toContain('new table');
    expect(next).toContain('## Bad input and abuse\n\ntheirs\n');
    expect(next.indexOf('new table')).toBeLessThan(next.indexOf('## Bad input'));
  });
});
