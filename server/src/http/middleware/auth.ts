import type { RequestHandler } from 'express';
import type { KeySource } from '../../auth/api-keys.js';
import { sendUnauthorized } from '../errors.js';

// The scheme name is case-insensitive (RFC 7235 §2.1); the token is not.
const BEARER = /^bearer +(\S+)$/i;

/** The token of `Authorization: Bearer TOKEN`, or undefined for any other scheme or shape. */
export function bearerToken(authorization: string | undefined): string | undefined {
  return BEARER.exec(authorization ?? '')?.[1];
}

/** Requires `Authorization: Bearer KEY` with a known key. Every failure looks the same to the client. */
export function requireApiKey(keys: KeySource): RequestHandler {
  return (req, res, next) => {
    const token = bearerToken(req.headers.authorization);
    if (token && keys.current().matches(token)) return next();
    sendUnauthorized(res);
  };
}
