/** Synthetic Lüliang: a city, its bus traffic, and the ground truth SPEC R1-R6/R14 give for it. */
export * from './calendar';
export * from './city.files';
export * from './city.generator';
export type * from './city.model';
export * from './csv';
export * from './ground-truth';
export * from './ground-truth.files';
export * from './prng';
export * from './simulation';
export * from './traffic.generator';
export type * from './traffic.model';
export * from './uplink';
export * from './wire';
export * from './http.driver';
export * from './verify';
