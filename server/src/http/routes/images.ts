// POST /v1/images/generations: OpenAI's body plus HyperGen's fields, validated -> an engine request through the queue
// -> b64_json or url images; GET /v1/images/files/:name serves url images, relaying those another replica holds.
import { randomInt } from 'node:crypto';
import { Router, type Request } from 'express';
import { z } from 'zod';
import { GenerationRequestError, SCHEDULER_NAMES, type EngineInfo, type GenerationRequest } from '../../engine/types.js';
import { GenerationTimeoutError, QueueFullError, ShuttingDownError, type GenerationQueue } from '../../serving/generation-queue.js';
import type { ImageLinks } from '../../serving/image-links.js';
import type { ImageStore } from '../../serving/image-store.js';
import { ApiError, ClientDisconnectedError, invalidParam } from '../errors.js';
import { jsonBody } from '../middleware/json-body.js';
import type { TrustCheck } from '../trusted-proxies.js';

export const MAX_PROMPT_CHARS = 32_000;
const MAX_SEED = 2 ** 32 - 1;

const optional = <T extends z.ZodType>(schema: T) => schema.nullish();

// OpenAI's fields plus HyperGen's extensions. Unknown fields are refused, as OpenAI does.
const bodySchema = z.strictObject({
  prompt: z.string().min(1, 'must not be empty').max(MAX_PROMPT_CHARS, `must be at most ${MAX_PROMPT_CHARS} characters`),
  model: optional(z.string()),
  n: optional(z.number().int().min(1).max(10)),
  size: optional(z.string()),
  response_format: optional(z.enum(['url', 'b64_json'])),
  output_format: optional(z.enum(['png', 'jpeg', 'webp'])),
  output_compression: optional(z.number().int().min(0).max(100)),
  quality: optional(z.enum(['auto', 'low', 'medium', 'high', 'standard', 'hd'])),
  style: optional(z.enum(['vivid', 'natural'])),
  background: optional(z.enum(['auto', 'opaque'])),
  moderation: optional(z.enum(['auto', 'low'])),
  user: optional(z.string().max(256)),
  negative_prompt: optional(z.string().max(MAX_PROMPT_CHARS)),
  num_inference_steps: optional(z.number().int().min(1).max(150)),
  guidance_scale: optional(z.number().min(0).max(50)),
  seed: optional(z.number().int().min(0).max(MAX_SEED)),
  scheduler: optional(z.enum(SCHEDULER_NAMES)),
});

export type ImagesBody = z.infer<typeof bodySchema>;

// Without explicit steps, quality scales the model's default step count.
const QUALITY_STEP_FACTOR: Record<string, number> = { low: 0.5, high: 1.5, hd: 1.5 };

/** Turns zod's first issue into a 400 naming the parameter. */
function parseBody(body: unknown): ImagesBody {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ApiError(400, 'The request body must be a JSON object (Content-Type: application/json).', 'invalid_request_error', null, 'invalid_body');
  }
  const parsed = bodySchema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const param = issue.keys[0]!;
    throw new ApiError(400, `Unrecognized request argument supplied: ${param}`, 'invalid_request_error', param, 'unknown_parameter');
  }
  const param = String(issue.path[0] ?? '');
  if (issue.code === 'invalid_type' && (body as Record<string, unknown>)[param] === undefined) {
    throw invalidParam(param, `Missing required parameter: '${param}'.`, 'missing_required_parameter');
  }
  throw invalidParam(param, `Invalid '${param}': ${issue.message}`);
}

function parseSize(size: string | null | undefined, info: EngineInfo): { width: number; height: number } {
  if (size === undefined || size === null || size === 'auto') return { width: info.defaults.width, height: info.defaults.height };
  const match = /^(\d{1,5})x(\d{1,5})$/.exec(size);
  if (!match) throw invalidParam('size', `Invalid 'size': expected 'WIDTHxHEIGHT' (e.g. '${info.defaults.width}x${info.defaults.height}') or 'auto', got '${size.slice(0, 40)}'.`);
  const width = Number(match[1]);
  const height = Number(match[2]);
  const { sizeMultiple, minSize, maxSize } = info.limits;
  for (const side of [width, height]) {
    if (side % sizeMultiple !== 0 || side < minSize || side > maxSize) {
      throw invalidParam('size', `Invalid 'size': width and height must be multiples of ${sizeMultiple} from ${minSize} to ${maxSize}, got '${size}'.`);
    }
  }
  return { width, height };
}

export interface ServingDefaults {
  steps?: number;
  guidanceScale?: number;
  scheduler?: GenerationRequest['scheduler'];
}

/** Maps a validated body onto an engine request; the model's own defaults fill what the client left out. */
export function toGenerationRequest(body: ImagesBody, info: EngineInfo, overrides: ServingDefaults): GenerationRequest {
  const { width, height } = parseSize(body.size, info);
  const defaultSteps = overrides.steps ?? info.defaults.steps;
  const steps = body.num_inference_steps ?? Math.max(1, Math.round(defaultSteps * (QUALITY_STEP_FACTOR[body.quality ?? ''] ?? 1)));
  if (steps > info.limits.maxSteps) {
    throw invalidParam('num_inference_steps', `Invalid 'num_inference_steps': this model allows at most ${info.limits.maxSteps}.`);
  }
  return {
    prompt: body.prompt,
    ...(body.negative_prompt ? { negativePrompt: body.negative_prompt } : {}),
    n: body.n ?? 1,
    width,
    height,
    steps,
    guidanceScale: body.guidance_scale ?? overrides.guidanceScale ?? info.defaults.guidanceScale,
    seed: body.seed ?? randomInt(0, MAX_SEED),
    scheduler: body.scheduler ?? overrides.scheduler ?? info.defaults.scheduler,
    outputFormat: body.output_format ?? 'png',
    ...(body.output_compression !== undefined && body.output_compression !== null ? { outputCompression: body.output_compression } : {}),
  };
}

// Hosts and prefixes from headers end up in URLs: accept only plain characters.
const SAFE_HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;
const SAFE_PREFIX = /^(\/[A-Za-z0-9._~:@!$&'()*+,;=%-]+)*$/;

const firstValue = (header: string | string[] | undefined) => (Array.isArray(header) ? header[0] : header)?.split(',')[0]?.trim();

/**
 * The absolute base URL the client used. X-Forwarded-Proto/-Host/-Prefix count only from a trusted proxy (the socket
 * peer is in --trusted-proxies); anyone else gets the Host they sent on the scheme they came in on.
 */
export function publicBaseUrl(req: Request, trusted: TrustCheck): string {
  const fromProxy = trusted(req.socket.remoteAddress);
  const forwarded = (name: string) => (fromProxy ? firstValue(req.headers[name]) : undefined);
  const proto = forwarded('x-forwarded-proto');
  const host = forwarded('x-forwarded-host') ?? req.headers.host ?? '';
  const prefix = forwarded('x-forwarded-prefix')?.replace(/\/+$/, '') ?? '';
  const scheme = proto === 'https' || proto === 'http' ? proto : 'encrypted' in req.socket ? 'https' : 'http';
  const safeHost = SAFE_HOST.test(host) ? host : `${req.socket.localAddress ?? '127.0.0.1'}:${req.socket.localPort ?? ''}`;
  const safePrefix = SAFE_PREFIX.test(prefix) && !prefix.split('/').some((segment) => segment === '.' || segment === '..' || /%2e|%2f|%5c/i.test(segment));
  return `${scheme}://${safeHost}${safePrefix ? prefix : ''}`;
}

/** The API's name for each engine request field, for errors the engine raises about a field. */
const API_PARAM: Record<keyof GenerationRequest, string> = {
  prompt: 'prompt', negativePrompt: 'negative_prompt', n: 'n', width: 'size', height: 'size', steps: 'num_inference_steps',
  guidanceScale: 'guidance_scale', seed: 'seed', scheduler: 'scheduler', outputFormat: 'output_format', outputCompression: 'output_compression',
};

/** Maps admission and engine outcomes onto HTTP; anything else stays unexpected (a 500). */
function asApiError(error: unknown): unknown {
  if (error instanceof GenerationRequestError) return invalidParam(API_PARAM[error.param], error.message);
  if (error instanceof QueueFullError) {
    return new ApiError(429, error.message, 'rate_limit_error', null, 'queue_full', { 'Retry-After': String(error.retryAfterS) });
  }
  if (error instanceof ShuttingDownError) {
    return new ApiError(503, error.message, 'server_error', null, 'shutting_down', { 'Retry-After': '1' });
  }
  if (error instanceof GenerationTimeoutError) return new ApiError(504, error.message, 'server_error', null, 'timeout');
  return error;
}

export interface ImagesDeps {
  modelId: string;
  engineInfo: () => EngineInfo | undefined;
  queue: GenerationQueue;
  store: ImageStore;
  /** Public names of url images (signed with the owner's address when replicas share a peer key). */
  links: ImageLinks;
  defaults: ServingDefaults;
  /** Peers whose X-Forwarded-* headers shape url images' URLs (default: none). */
  trustedProxy?: TrustCheck;
}

export function imagesRouter(deps: ImagesDeps): Router {
  const router = Router();

  router.post('/v1/images/generations', ...jsonBody(), async (req, res) => {
    const body = parseBody(req.body);
    if (body.model !== undefined && body.model !== null && body.model !== deps.modelId) {
      throw new ApiError(404, `The model '${body.model.slice(0, 200)}' does not exist; this server serves '${deps.modelId}'.`, 'invalid_request_error', 'model', 'model_not_found');
    }
    const info = deps.engineInfo();
    if (!info) throw new ApiError(503, 'The model is still loading; retry shortly.', 'server_error', null, 'model_loading', { 'Retry-After': '5' });
    const request = toGenerationRequest(body, info, deps.defaults);

    // The client going away aborts the work: it leaves the queue or stops at the next denoising step.
    const disconnected = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) disconnected.abort(new ClientDisconnectedError());
    });
    const result = await deps.queue.submit(request, disconnected.signal).catch((error: unknown) => {
      throw asApiError(error);
    });

    const asUrl = body.response_format === 'url';
    const base = asUrl ? publicBaseUrl(req, deps.trustedProxy ?? (() => false)) : '';
    res.json({
      created: Math.floor(Date.now() / 1000),
      data: result.images.map((image) => ({
        ...(asUrl
          ? { url: `${base}/v1/images/files/${deps.links.name(deps.store.put(image.data, image.mimeType, request.outputFormat))}` }
          : { b64_json: image.data.toString('base64') }),
        revised_prompt: request.prompt,
        seed: image.seed,
      })),
      output_format: request.outputFormat,
      size: `${request.width}x${request.height}`,
      quality: body.quality ?? 'auto',
    });
  });

  return router;
}

/** Marks a fetch from a peer replica: it is answered from the local store only, so forwarding never loops. */
export const FORWARDED_HEADER = 'x-hypergen-forwarded';
const PEER_TIMEOUT_MS = 10_000;

/**
 * Serves response_format=url images. Their names are capabilities, so browsers fetch them without the API key. An
 * image made by another replica (a signed name whose owner is not this one) is fetched from that replica and relayed.
 */
export function imageFilesRouter(store: ImageStore, links: ImageLinks): Router {
  const router = Router();
  const notFound = () => new ApiError(404, 'This image does not exist or has expired.', 'not_found_error', null, 'image_not_found');
  router.get('/v1/images/files/:name', async (req, res) => {
    const name = links.parse(req.params.name);
    if (!name) throw notFound();
    const image = store.get(name.local);
    if (image) {
      // Cacheable for as long as the image stays downloadable (--image-ttl-s from its creation), no longer.
      res.setHeader('Cache-Control', `private, max-age=${Math.max(0, Math.floor((image.expiresAt - Date.now()) / 1000))}`);
      res.type(image.mimeType).send(image.data);
      return;
    }
    if (!name.owner || name.owner === links.self || req.headers[FORWARDED_HEADER]) throw notFound();
    const upstream = await fetch(`http://${name.owner}/v1/images/files/${encodeURIComponent(req.params.name)}`, {
      headers: { [FORWARDED_HEADER]: '1', 'x-request-id': String(req.id) },
      redirect: 'error',
      signal: AbortSignal.timeout(PEER_TIMEOUT_MS),
    }).catch((error: unknown) => {
      req.log.info({ owner: name.owner, err: (error as Error).message }, 'url image owner unreachable');
      return undefined;
    });
    const type = upstream?.headers.get('content-type') ?? '';
    if (!upstream || upstream.status !== 200 || !/^image\/(png|jpeg|webp)$/.test(type)) {
      await upstream?.body?.cancel();
      throw notFound();
    }
    const data = Buffer.from(await upstream.arrayBuffer());
    res.setHeader('Cache-Control', upstream.headers.get('cache-control') ?? 'private, max-age=0');
    res.type(type).send(data);
  });
  return router;
}
