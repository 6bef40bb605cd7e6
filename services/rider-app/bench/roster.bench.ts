/**
 * `pnpm bench:roster`: imports a 100,000-row employee roster (CSV) into a fresh test database and
 * compares it with a baseline measured in the same run: the same rows, parsed from the same file,
 * written raw (no validation, hashing or encryption) with one unnest INSERT into a scratch table.
 * Also times a re-import of the same file (idempotent: compares, writes nothing).
 *   ROWS=100000 pnpm bench:roster   (needs the PostgreSQL of the tests, TEST_DATABASE_URL)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { sql } from '@ridetally/db';
import { createTestDatabase } from '@ridetally/db/testing';
import { importEmployees, importEmployers, readCsv, readTableFile } from '@ridetally/registry';
import { makeIdNumber, testKeyring } from '@ridetally/registry/testing';

const ROWS = Number(process.env.ROWS ?? 100_000);
const EMPLOYERS = 200;
const SURNAMES = '王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤';
const GIVEN = '伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红梅鹏飞宇浩然子涵欣怡梓萱诗琪雨轩';

function roster(): string {
  const lines = ['id_number,name,employer_code,in_service_from,in_service_to'];
  let person = 0;
  while (lines.length - 1 < ROWS) {
    person++;
    // Distinct ID numbers: a birth date per person modulo 10,000 days, the sequence number above that.
    const birth = new Date(Date.UTC(1960, 0, 1) + (person % 10_000) * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '');
    const id = makeIdNumber('141102', birth, Math.floor(person / 10_000));
    const name = SURNAMES[person % SURNAMES.length]! + GIVEN[(person * 7) % GIVEN.length]! + GIVEN[(person * 13) % GIVEN.length]!;
    const employer = `E${person % EMPLOYERS}`;
    // One in ten changes employer mid-year: two rows.
    if (person % 10 === 0 && lines.length < ROWS) {
      lines.push(`${id},${name},${employer},2020-01-01,2022-06-30`);
      lines.push(`${id},${name},E${(person + 1) % EMPLOYERS},2022-07-01,`);
    } else {
      lines.push(`${id},${name},${employer},2021-03-01,`);
    }
  }
  return lines.slice(0, ROWS + 1).join('\n') + '\n';
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rt-roster-bench-'));
  const file = join(dir, 'employees.csv');
  writeFileSync(file, roster());
  const tdb = await createTestDatabase(2);
  const keyring = testKeyring();
  const deps = { db: tdb.db, keyring, now: () => new Date() };
  try {
    const employers = ['code,name,type,city_area', ...Array.from({ length: EMPLOYERS }, (_, i) => `E${i},单位${i},agency,true`)].join('\n');
    await importEmployers(deps, readCsv(Buffer.from(employers)));

    // Baseline: parse the same file, write its raw rows with one unnest INSERT in one transaction.
    await sql`CREATE TABLE bench_raw (id_number text, name text, employer_code text, f date, t date)`.execute(tdb.db);
    let t0 = performance.now();
    const table = await readTableFile(file);
    await tdb.db.transaction().execute(async (trx) => {
      const col = (i: number) => table.rows.map((r) => r.cells[i] || null);
      await sql`INSERT INTO bench_raw SELECT * FROM unnest(${col(0)}::text[], ${col(1)}::text[], ${col(2)}::text[], ${col(3)}::date[], ${col(4)}::date[])`.execute(trx);
    });
    const baselineMs = performance.now() - t0;

    t0 = performance.now();
    const first = await importEmployees(deps, await readTableFile(file));
    const importMs = performance.now() - t0;
    if (!first.applied) throw new Error(`import refused: ${JSON.stringify(first.problems.slice(0, 5))}`);

    t0 = performance.now();
    const again = await importEmployees(deps, await readTableFile(file));
    const reimportMs = performance.now() - t0;
    if (again.changes.employmentsInserted !== 0 || again.changes.personsCreated !== 0) throw new Error('re-import changed something');

    const { rows } = await sql<{ persons: number; employments: number }>`
      SELECT (SELECT count(*)::int FROM persons) AS persons, (SELECT count(*)::int FROM employments) AS employments`.execute(tdb.db);
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    process.stdout.write(
      [
        `roster import benchmark: ${ROWS} rows (${rows[0]!.persons} persons, ${rows[0]!.employments} employments)`,
        `baseline (parse + raw unnest INSERT, no checks/hash/encryption): ${s(baselineMs)}`,
        `import employees (validate, hash, encrypt, compare, bulk write):  ${s(importMs)}  = ${(importMs / baselineMs).toFixed(1)}x baseline`,
        `re-import of the same file (compare only, no writes):             ${s(reimportMs)}  = ${(reimportMs / baselineMs).toFixed(1)}x baseline`,
        `changes: ${JSON.stringify(first.changes)}`,
        '',
      ].join('\n'),
    );
    if (importMs > 60_000) process.exitCode = 1;
  } finally {
    await tdb.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
