import { ApiError } from './api.js';
import { t, type MessageKey } from './i18n.js';

const PREFIX: Record<number, MessageKey> = {
  400: 'error.invalid',
  401: 'error.unauthorized',
  404: 'error.notFound',
  409: 'error.conflict',
  413: 'error.invalid',
  422: 'error.invalid',
  429: 'error.busy',
  503: 'error.unavailable',
};

/**
 * A user-facing sentence for an error from the API or the network: a translated lead-in chosen by
 * status, then the server's own message (which names the rule, e.g. R12's closing date).
 */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 403) return t('error.forbidden');
    if (err.status === 0) return t('error.network');
    if (err.status >= 500 && err.status !== 503) return t('error.server');
    const key = PREFIX[err.status];
    return key ? `${t(key)}${err.message}` : err.message;
  }
  return err instanceof Error ? err.message : String(err);
}
