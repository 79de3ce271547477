// The playground at GET /: static page, script and styles from server/assets/playground, plus the model's defaults
// and limits as playground/config.json. No authentication here: the page holds nothing secret, and the key the user
// types travels only with its own API calls.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Router, type Response } from 'express';
import { SCHEDULER_NAMES, type EngineInfo } from '../../engine/types.js';
import { ApiError } from '../errors.js';
import type { ServingDefaults } from './images.js';

/** server/{src,dist}/http/routes -> server/assets/playground */
const ASSETS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'assets', 'playground');

/** The page runs only its own files: no inline code, no other origins, no framing. */
export const PLAYGROUND_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'playground.js': 'text/javascript; charset=utf-8',
  'playground.css': 'text/css; charset=utf-8',
};

export interface PlaygroundDeps {
  modelId: string;
  engineInfo: () => EngineInfo | undefined;
  /** Whether API calls need a key (the page then shows its key field). */
  authRequired: boolean;
  /** The server's --default-* overrides, which win over the model's own defaults as in the images route. */
  defaults: ServingDefaults;
}

function sendAsset(res: Response, contents: Map<string, Buffer>, name: string): void {
  res.setHeader('Content-Security-Policy', PLAYGROUND_CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cache-Control', 'no-cache');
  res.type(FILES[name]!).send(contents.get(name));
}

export function playgroundRouter(deps: PlaygroundDeps): Router {
  // Read once at start-up: a missing asset is a broken install, better found before the first visitor.
  const contents = new Map(Object.keys(FILES).map((name) => [name, readFileSync(join(ASSETS, name))]));
  const router = Router();

  router.get('/', (_req, res) => sendAsset(res, contents, 'index.html'));

  router.get('/playground/config.json', (_req, res) => {
    const info = deps.engineInfo();
    res.setHeader('Cache-Control', 'no-store');
    res.json({
      model: deps.modelId,
      ready: info !== undefined,
      auth: deps.authRequired,
      ...(info
        ? {
            family: info.family,
            device: info.device,
            defaults: {
              width: info.defaults.width,
              height: info.defaults.height,
              steps: deps.defaults.steps ?? info.defaults.steps,
              guidance_scale: deps.defaults.guidanceScale ?? info.defaults.guidanceScale,
              scheduler: deps.defaults.scheduler ?? info.defaults.scheduler,
            },
            limits: {
              size_multiple: info.limits.sizeMultiple,
              min_size: info.limits.minSize,
              max_size: info.limits.maxSize,
              max_steps: info.limits.maxSteps,
            },
            schedulers: [...SCHEDULER_NAMES],
          }
        : {}),
    });
  });

  router.get('/playground/:file', (req, res) => {
    const name = req.params.file;
    if (name === 'index.html' || !contents.has(name)) {
      throw new ApiError(404, `Unknown route: GET ${req.path.slice(0, 200)}`, 'invalid_request_error', null, 'unknown_url');
    }
    sendAsset(res, contents, name);
  });

  return router;
}
