import type { Migration } from 'kysely';
import * as schema from './20260101000000_schema';
import * as aggregation from './20260104000000_aggregation';
import * as reward from './20260105000000_reward';
import * as quarantineDedupe from './20261129000300_quarantine_dedupe';
import * as keyRotation from './20261129000400_key_rotation';

/** Every migration, by name. Names sort in application order (YYYYMMDDHHmmss_what). */
export const migrations: Record<string, Migration> = {
  '20260101000000_schema': schema,
  '20260104000000_aggregation': aggregation,
  '20260105000000_reward': reward,
  '20261129000300_quarantine_dedupe': quarantineDedupe,
  '20261129000400_key_rotation': keyRotation,
};
