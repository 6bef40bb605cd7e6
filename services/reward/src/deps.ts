/** What the reward service needs from its composition root. Everything that varies is injected. */
import type { Database } from '@ridetally/db';
import type { Keyring } from '@ridetally/keyring';
import { createLogger, type Logger } from '@ridetally/telemetry';

export interface RewardDeps {
  db: Database;
  keyring: Keyring;
  logger: Logger;
  /** The clock: every "now" (sessions, period close, notice dates, audit) comes from here. */
  clock?: () => Date;
  /** scrypt cost; tests lower it. Default 2^15. */
  scryptCost?: number;
  /** Path of a TrueType/TTC font with CJK glyphs for PDF notices (default: searched, see notice-pdf.ts). */
  cjkFontPath?: string;
}

export interface RewardContext {
  db: Database;
  keyring: Keyring;
  logger: Logger;
  now: () => Date;
  scryptCost: number;
  cjkFontPath: string | undefined;
}

export function toContext(deps: RewardDeps): RewardContext {
  return {
    db: deps.db,
    keyring: deps.keyring,
    logger: deps.logger,
    now: deps.clock ?? (() => new Date()),
    scryptCost: deps.scryptCost ?? 2 ** 15,
    cjkFontPath: deps.cjkFontPath,
  };
}

/** A context for command-line tools: no HTTP, a silent logger, the real clock. */
export function toolContext(db: Database, keyring: Keyring): RewardContext {
  return toContext({ db, keyring, logger: createLogger({ level: 'silent', service: 'reward-cli' }) });
}
