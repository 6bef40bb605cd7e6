/**
 * The embedded database keeps no empty monthly partition of `taps`.
 *
 * The schema partitions `taps` by Shanghai month and creates the months from 2022-04 to 13 months
 * ahead (~70 tables, each with four indexes) so that the scaled PostgreSQL never has to. On PGlite
 * that layout is what makes the platform slow: every statement on `taps` is planned over every
 * partition and its indexes, and PGlite's emulated file system opens, sizes and closes each of
 * their files for it (~2,400 open+close a second while the aggregator runs). Measured on a quarter
 * of a small city: planning one person's taps took 710 ms for 19 ms of execution; with only the
 * months that hold taps, 2 ms for 4 ms.
 *
 * So on start, the embedded platform drops the month partitions that hold no row; taps of a month
 * without a partition go to the DEFAULT partition, which exists for that (docs/decisions.md,
 * "Monthly partitions"). Nothing is lost or moved: a partition is dropped only when it is empty,
 * locked, in the transaction that looked (one transaction for all: one commit on first start, ~2 s
 * of CPU for the ~70 tables). PostgreSQL (DATABASE_URL) is never touched by this.
 */
import { sql, type Database } from '@ridetally/db';

/** Drops the empty month partitions of `taps` (never the DEFAULT one), in one transaction; returns their names. */
export async function dropEmptyTapPartitions(db: Database): Promise<string[]> {
  return db.transaction().execute(async (tx) => {
    const { rows } = await sql<{ name: string }>`
      SELECT c.relname AS name
      FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'taps'::regclass AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
      ORDER BY 1`.execute(tx);
    const dropped: string[] = [];
    for (const { name } of rows) {
      await sql`LOCK TABLE ${sql.table(name)} IN ACCESS EXCLUSIVE MODE`.execute(tx);
      const { rows: any } = await sql<{ one: number }>`SELECT 1 AS one FROM ${sql.table(name)} LIMIT 1`.execute(tx);
      if (any.length > 0) continue;
      await sql`DROP TABLE ${sql.table(name)}`.execute(tx);
      dropped.push(name);
    }
    return dropped;
  });
}
