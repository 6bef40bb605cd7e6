/** Database access: the client, migrations, table types and repositories. Only this package touches Kysely. */
export * from './client';
export * from './migrate';
export type * from './types';
export { sql, type Transaction, type Kysely, type Selectable, type Insertable } from 'kysely';
export * from './repositories/outbox.repository';
export * from './repositories/person-taps.repository';
