import { Router } from 'express';
import { ApiError } from '../errors.js';

export interface ModelsDeps {
  modelId: string;
  /** Unix seconds when the model was loaded. */
  created: () => number;
}

const modelObject = (deps: ModelsDeps) => ({ id: deps.modelId, object: 'model', created: deps.created(), owned_by: 'hypergen' });

export function modelsRouter(deps: ModelsDeps): Router {
  const router = Router();
  router.get('/v1/models', (_req, res) => {
    res.json({ object: 'list', data: [modelObject(deps)] });
  });
  // Model ids may contain slashes (Hugging Face ids, local paths), hence the wildcard.
  router.get('/v1/models/*id', (req, res) => {
    const id = (req.params as { id: string[] }).id.join('/');
    if (id !== deps.modelId) {
      throw new ApiError(404, `The model '${id.slice(0, 200)}' does not exist.`, 'invalid_request_error', 'model', 'model_not_found');
    }
    res.json(modelObject(deps));
  });
  return router;
}
