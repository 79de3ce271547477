// GET /v1/models/{id} and the /v1/models list body: exactly the one served model, 404 model_not_found for any other id.
import { Router } from 'express';
import { ApiError } from '../errors.js';

export interface ModelsDeps {
  modelId: string;
  /** Unix seconds when the model was loaded. */
  created: () => number;
}

const modelObject = (id: string, created: number) => ({ id, object: 'model', created, owned_by: 'hypergen' });

/** The /v1/models body: always exactly the one served model. */
export const modelList = (id: string, created: number) => ({ object: 'list', data: [modelObject(id, created)] });

/** GET /v1/models/{id}; the list itself is served by ../models-fast-path.ts. */
export function modelsRouter(deps: ModelsDeps): Router {
  const router = Router();
  // Model ids may contain slashes (Hugging Face ids, local paths), hence the wildcard.
  router.get('/v1/models/*id', (req, res) => {
    const id = (req.params as { id: string[] }).id.join('/');
    if (id !== deps.modelId) {
      throw new ApiError(404, `The model '${id.slice(0, 200)}' does not exist.`, 'invalid_request_error', 'model', 'model_not_found');
    }
    res.json(modelObject(id, deps.created()));
  });
  return router;
}
