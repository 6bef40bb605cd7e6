/** Real-name registration, media bindings and a person's rides. Thin: parse, call the registry, shape. */
import type { Router } from 'express';
import { parseWith } from '@ridetally/http';
import { bindMedium, listRides, registerPerson, unbindMedium, type RegistryDeps, type RulesAt } from '@ridetally/registry';
import {
  BindMediumSchema,
  PersonIdParamsSchema,
  RegisterPersonSchema,
  RidesQuerySchema,
  UnbindParamsSchema,
  UnbindQuerySchema,
} from '../schemas';
import type { RequestHandler } from 'express';

export function registerPersonsRoutes(router: Router, deps: RegistryDeps & { rulesAt: RulesAt }, auth: RequestHandler[], json: RequestHandler): void {
  router.post('/v1/persons', ...auth, json, async (req, res) => {
    const body = parseWith(RegisterPersonSchema, req.body, 'registration');
    const result = await registerPerson(deps, body);
    if (result.updated.length) req.log.info({ personId: result.personId, fields: result.updated, clientId: req.clientId }, 'person re-registered with changes');
    res.status(result.created ? 201 : 200).json({ personId: result.personId });
  });

  router.post('/v1/persons/:personId/media', ...auth, json, async (req, res) => {
    const { personId } = parseWith(PersonIdParamsSchema, req.params, 'path');
    const body = parseWith(BindMediumSchema, req.body, 'binding');
    res.status(201).json(await bindMedium(deps, { personId, ...body }));
  });

  router.delete('/v1/persons/:personId/media/:type/:id', ...auth, async (req, res) => {
    const params = parseWith(UnbindParamsSchema, req.params, 'path');
    const { validTo } = parseWith(UnbindQuerySchema, req.query, 'query');
    res.json(await unbindMedium(deps, { ...params, validTo }));
  });

  router.get('/v1/persons/:personId/rides', ...auth, async (req, res) => {
    const { personId } = parseWith(PersonIdParamsSchema, req.params, 'path');
    const query = parseWith(RidesQuerySchema, req.query, 'query');
    res.json({ rides: await listRides(deps, { personId, ...query }, deps.rulesAt) });
  });
}

