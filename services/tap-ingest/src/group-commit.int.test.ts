import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { numberArrayLiteral, sql, textArrayLiteral } from '@ridetally/db';
import { createTestDatabase, type TestDatabase } from '@ridetally/db/testing';
import { commitGroup, createGroupCommitter, type GroupRequest, type PendingTap } from './group-commit';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase(6);
});
afterAll(async () => {
  await db.drop();
});

const tap = (deviceId: string, seq: number, content = 'a'): PendingTap => ({
  deviceId,
  seq,
  tappedAt: new Date('2022-06-01T08:00:00+08:00'),
  receivedAt: new Date(),
  contentHash: createHash('sha256').update(`${deviceId}/${seq}/${content}`).digest('hex'),
  vehicleId: 'V1',
  routeId: 'R1',
  stopId: null,
  mediaType: 'qr',
  mediaKind: null,
  mediaKey: `acct-${content}`,
  mediaCiphertext: null,
  raw: { seq, content },
});
const req = (...taps: PendingTap[]): GroupRequest => ({ taps, quarantine: [], sanitise: (raw) => raw });
const count = async (table: 'taps' | 'outbox' | 'ingest_batches' | 'quarantined_taps') =>
  (await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.table(table)}`.execute(db.db)).rows[0]!.n;

describe('commitGroup', () => {
  it('classifies keys shared by requests of one group and across groups', async () => {
    const out = await commitGroup(db.db, [req(tap('G', 1), tap('G', 2)), req(tap('G', 1), tap('G', 2, 'b'), tap('G', 3))]);
    expect(out).toEqual([
      ['accepted', 'accepted'],
      ['duplicate', 'seq_conflict', 'accepted'],
    ]);
    const again = await commitGroup(db.db, [req(tap('G', 1), tap('G', 3, 'c'), tap('G', 4), tap('G', 4), tap('G', 4, 'd'))]);
    expect(again).toEqual([['duplicate', 'seq_conflict', 'accepted', 'duplicate', 'seq_conflict']]);
    expect(await count('taps')).toBe(4);
    expect(await count('ingest_batches')).toBe(2);
    expect(await count('outbox')).toBe(2);
    const q = (await sql<{ seq: number; code: string }>`SELECT seq, code FROM quarantined_taps ORDER BY id`.execute(db.db)).rows;
    expect(q).toEqual([
      { seq: 2, code: 'seq_conflict' },
      { seq: 3, code: 'seq_conflict' },
      { seq: 4, code: 'seq_conflict' },
    ]);
    // An all-duplicate group writes no batch and no outbox row.
    expect(await commitGroup(db.db, [req(tap('G', 1))])).toEqual([['duplicate']]);
    expect(await count('outbox')).toBe(2);
  });

  it('asks for the previous-key hash only for a key stored with another hash, and takes it as the same tap', async () => {
    const asked: number[] = [];
    // What the stored hash of seq 2 would be under the previous key (content 'old').
    const previous = (t: PendingTap) => {
      asked.push(t.seq);
      return t.seq === 2 ? tap('P', 2, 'old').contentHash : null;
    };
    const during = (...taps: PendingTap[]): GroupRequest => ({ ...req(...taps), previousContentHash: previous });
    expect(await commitGroup(db.db, [req(tap('P', 1), tap('P', 2, 'old'), tap('P', 3))])).toEqual([['accepted', 'accepted', 'accepted']]);
    expect(await commitGroup(db.db, [during(tap('P', 1), tap('P', 4))])).toEqual([['duplicate', 'accepted']]);
    expect(asked).toEqual([]);
    expect(await commitGroup(db.db, [during(tap('P', 2, 'new'), tap('P', 3, 'other'))])).toEqual([['duplicate', 'seq_conflict']]);
    expect(asked).toEqual([2, 3]);
  });
});

describe('createGroupCommitter', () => {
  it('stores each key once when many requests race over several groups in flight', async () => {
    const groups: number[] = [];
    const committer = createGroupCommitter({ db: db.db, pool: db.pool, maxTaps: 7, maxWaitMs: 1, maxInFlight: 3, onGroup: (s) => groups.push(s.requests) });
    const requests = Array.from({ length: 60 }, (_, i) => req(tap('C', i % 10), tap('C', (i * 7) % 10), tap('C', 100 + i)));
    const outcomes = await Promise.all(requests.map((r) => committer.submit(r)));
    await committer.close();
    const accepted = new Map<number, number>();
    outcomes.forEach((o, i) =>
      o.forEach((x, j) => {
        expect(x).not.toBe('seq_conflict');
        if (x === 'accepted') {
          const seq = requests[i]!.taps[j]!.seq;
          accepted.set(seq, (accepted.get(seq) ?? 0) + 1);
        }
      }),
    );
    expect(accepted.size).toBe(70);
    expect([...accepted.values()].every((n) => n === 1)).toBe(true);
    expect(groups.length).toBeGreaterThan(3);
    const n = (await sql<{ n: number }>`SELECT count(*)::int AS n FROM taps WHERE device_id = 'C'`.execute(db.db)).rows[0]!.n;
    expect(n).toBe(70);
  });
});

describe('the group statement\'s array literals', () => {
  it('round-trip any text and number through PostgreSQL', async () => {
    const tricky = ['', 'NULL', 'null', 'a,b', '{x}', ' lead', 'trail ', 'q"uote', 'back\\slash', '\\"', '车站 12', 'tab\tand\nline', 'é'];
    const check = async (values: (string | null)[]) => {
      const { rows } = await sql<{ a: (string | null)[] }>`SELECT ${textArrayLiteral(values)}::text[] AS a`.execute(db.db);
      expect(rows[0]!.a).toEqual(values);
    };
    await check([...tricky, null]);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.option(fc.oneof(fc.constantFrom(...tricky), fc.string({ unit: 'grapheme' }).filter((x) => !x.includes('\u0000'))), { nil: null }), { maxLength: 20 }), check),
      { numRuns: 100 },
    );
    const numbers = [0, 1, Number.MAX_SAFE_INTEGER, 1652053262123, 1652053262123.5];
    const { rows } = await sql<{ a: number[] }>`SELECT ${numberArrayLiteral(numbers)}::float8[] AS a`.execute(db.db);
    expect(rows[0]!.a).toEqual(numbers);
  });
});
