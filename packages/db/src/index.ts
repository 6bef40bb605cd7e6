/** Database access: the client, migrations, table types and repositories. Only this package touches Kysely. */
export * from './client';
export * from './migrate';
export type * from './types';
export { sql, type Transaction, type Kysely, type Selectable, type Insertable } from 'kysely';
export * from './repositories/outbox.repository';
export * from './repositories/person-taps.repository';
export * from './repositories/device.repository';
export * from './repositories/tap.repository';
export * from './repositories/person.repository';
export * from './repositories/employer.repository';
export * from './repositories/employment.repository';
export * from './repositories/binding.repository';
export * from './repositories/route.repository';
export * from './repositories/vehicle.repository';
export * from './repositories/api-client.repository';
export * from './repositories/rating.repository';
