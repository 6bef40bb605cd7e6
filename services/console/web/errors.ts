import { ApiError } from './api.js';
import { t } from './i18n.js';

/** A user-facing sentence for an error from the API or the network. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 403) return t('error.forbidden');
    if (err.status === 0) return t('error.network');
    return `${err.message} (${err.code})`;
  }
  return err instanceof Error ? err.message : String(err);
}
