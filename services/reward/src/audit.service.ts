/** Audit helper: who did what to which subject, why, inside the transaction that does it. */
import { appendAudit, type Database, type Transaction, type DB } from '@ridetally/db';

export interface Actor {
  userId: string;
  username: string;
  roles: readonly string[];
}

export function auditActor(actor: Actor | string): string {
  return typeof actor === 'string' ? actor : `${actor.username} (${actor.userId})`;
}

export async function audit(
  db: Database | Transaction<DB>,
  at: Date,
  actor: Actor | string,
  action: string,
  subject: string | null,
  reason: string | null,
  details: Record<string, unknown> = {},
): Promise<void> {
  await appendAudit(db, { actor: auditActor(actor), action, subject, reason, details }, at);
}
