// GET /health (status, model, queue size, device and why), /livez (the event loop answers) and /readyz (200 only
// while ready, 503 loading or draining), all from ServerState. No authentication.
import { Router } from 'express';
import type { ServerState } from '../../serving/state.js';

export interface HealthDeps {
  modelId: string;
  state: ServerState;
  queueSize: () => number;
  /** The device asked for, shown until the engine has chosen one. */
  requestedDevice: string;
}

export function healthRouter(deps: HealthDeps): Router {
  const router = Router();
  const { state } = deps;

  // Shaped like the original Python HyperGen's /health, plus why the device was chosen.
  router.get('/health', (_req, res) => {
    res.json({
      status: state.phase === 'ready' ? 'healthy' : state.phase,
      model: deps.modelId,
      queue_size: deps.queueSize(),
      device: state.engine?.device ?? deps.requestedDevice,
      ...(state.engine ? { device_reason: state.engine.deviceReason, family: state.engine.family } : {}),
    });
  });

  // Liveness: the event loop answers. A model that fails to load ends the process instead (see serve.ts).
  router.get('/livez', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', (_req, res) => {
    res.status(state.phase === 'ready' ? 200 : 503).json({ status: state.phase });
  });

  return router;
}
