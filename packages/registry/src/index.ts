/**
 * Who is who (SPEC §2 R1-R3, §4, §5): real-name persons, the employee roster, media bindings, the
 * route and vehicle registry, rider-app clients, rides as the app sees them and ratings, and the
 * staff file imports. Used by the rider app API and the CLI; it stores, the aggregator counts.
 */
export * from './deps';
export * from './dates';
export * from './media';
export * from './person.service';
export * from './binding.service';
export * from './ride.service';
export * from './client.service';
export * from './route.service';
export * from './imports/table-reader';
export * from './imports/import-common';
export * from './imports/employers.import';
export * from './imports/employees.import';
export * from './imports/media.import';
export * from './imports/gtfs.import';
export * from './city.setup';
export * from './key-rotation';
