import type { RequestHandler } from 'express';
import type { KeySource } from '../../auth/api-keys.js';
import { sendUnauthorized } from '../errors.js';

const BEARER = /^Bearer (\S+)$/;

/** Requires `Authorization: Bearer KEY` with a known key. Every failure looks the same to the client. */
export function requireApiKey(keys: KeySource): RequestHandler {
  return (req, res, next) => {
    const match = BEARER.exec(req.headers.authorization ?? '');
    if (match?.[1] && keys.current().matches(match[1])) return next();
    sendUnauthorized(res);
  };
}
