// JSON endpoints' body: Content-Type must be application/json (else 415, so a cross-site form or text/plain post
// cannot reach a generation: browsers preflight application/json), at most MAX_BODY_BYTES, parsed by express.json.
import express, { type RequestHandler } from 'express';
import { ApiError } from '../errors.js';

export const MAX_BODY_BYTES = 1024 * 1024;

const JSON_TYPE = /^application\/json\s*(;|$)/i;

export function jsonBody(): RequestHandler[] {
  const requireJson: RequestHandler = (req, _res, next) => {
    if (JSON_TYPE.test(req.headers['content-type'] ?? '')) return next();
    next(new ApiError(415, "Unsupported Content-Type: this endpoint takes 'application/json'.", 'invalid_request_error', null, 'unsupported_media_type'));
  };
  return [requireJson, express.json({ limit: MAX_BODY_BYTES, type: () => true })];
}
