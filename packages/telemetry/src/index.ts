/**
 * Logs (pino) and metrics (prom-client) shared by every service. Logs never carry request bodies;
 * the redaction list is a second line of defence for secrets and ID numbers.
 */
import pino, { type Logger } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';

export type { Logger } from 'pino';

export const REDACT_PATHS = [
  'secret',
  '*.secret',
  'token',
  '*.token',
  'password',
  '*.password',
  'idNumber',
  '*.idNumber',
  'id_number',
  '*.id_number',
  'name',
  'phone',
  '*.phone',
  'req.headers.authorization',
  'req.headers["x-signature"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-signature"]',
  'headers.cookie',
];

export interface LoggerOptions {
  level?: string;
  service: string;
  /** Where to write (tests capture logs); default stdout. */
  destination?: pino.DestinationStream;
}

export function createLogger({ level = 'info', service, destination }: LoggerOptions): Logger {
  return pino(
    {
      level,
      base: { service },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

/** A metrics registry with the process's default metrics, labelled by service. */
export function createMetricsRegistry(service: string, withDefaults = true): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (withDefaults) collectDefaultMetrics({ register: registry });
  return registry;
}

export { Counter, Gauge, Histogram, Registry } from 'prom-client';
