/** The programme's rules, pure: no I/O, no clock. `now` and data are passed in. */
export * from './media';
export * from './names';
export * from './national-id';
export * from './periods';
export * from './rides';
export * from './rules';
export * from './ranking';
export * from './awards';
export * from './scoring';
export * from './subsidy';
export * from './snapshot-hash';
export * from './eligibility';
export * from './counting';
export * from './volume';
export * from './anomalies';
