/** Bearer-token authentication of rider-app integration clients. */
import type { RequestHandler } from 'express';
import { AppError } from '@ridetally/http';
import { authenticateApiClient, type RegistryDeps } from '@ridetally/registry';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The authenticated integration client (rider app routes only). */
      clientId?: string;
    }
  }
}

export function requireClient(deps: Pick<RegistryDeps, 'db' | 'keyring'>): RequestHandler {
  return async (req, _res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new AppError('unauthorized', 'an Authorization: Bearer <client token> header is required');
    const client = await authenticateApiClient(deps, match[1]!);
    if (!client) throw new AppError('unauthorized', 'unknown or revoked client token');
    req.clientId = client.client_id;
    next();
  };
}
