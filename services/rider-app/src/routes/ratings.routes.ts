/** Ratings (R5's input): one per ride, judged on ratedAt. */
import type { RequestHandler, Router } from 'express';
import { parseWith } from '@ridetally/http';
import { rateRide, type RegistryDeps, type RulesAt } from '@ridetally/registry';
import { RateRideSchema, TapIdParamsSchema } from '../schemas';

export function registerRatingsRoutes(router: Router, deps: RegistryDeps & { rulesAt: RulesAt }, auth: RequestHandler[], json: RequestHandler): void {
  router.post('/v1/rides/:tapId/rating', ...auth, json, async (req, res) => {
    const { tapId } = parseWith(TapIdParamsSchema, req.params, 'path');
    const body = parseWith(RateRideSchema, req.body, 'rating');
    const result = await rateRide(
      deps,
      {
        tapId,
        personId: body.personId,
        score: body.score,
        comment: body.comment,
        ratedAt: body.ratedAt === undefined ? undefined : new Date(body.ratedAt),
        clientId: req.clientId ?? null,
      },
      deps.rulesAt,
    );
    if (result.lateForward) req.log.info({ ratingId: result.ratingId, clientId: req.clientId }, 'rating forwarded late');
    res.status(201).json(result);
  });
}
