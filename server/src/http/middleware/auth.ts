// Who may call /v1: the bearer token against the configured keys, for Express routes and the /v1/models fast path.
import type { ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import type { KeySource } from '../../auth/api-keys.js';
import type { ServerState } from '../../serving/state.js';
import { sendUnauthorized } from '../errors.js';

// The scheme name is case-insensitive (RFC 7235 §2.1); the token is not.
const BEARER = /^bearer +(\S+)$/i;

/** The token of `Authorization: Bearer TOKEN`, or undefined for any other scheme or shape. */
export function bearerToken(authorization: string | undefined): string | undefined {
  return BEARER.exec(authorization ?? '')?.[1];
}

/** Whether `Authorization` carries a known key; always true when the server has none. */
export function authorized(keys: KeySource | undefined, authorization: string | undefined): boolean {
  if (!keys) return true;
  const token = bearerToken(authorization);
  return token !== undefined && keys.current().matches(token);
}

/** Requires `Authorization: Bearer KEY` with a known key. Every failure looks the same to the client. */
export function requireApiKey(keys: KeySource): RequestHandler {
  return (req, res, next) => (authorized(keys, req.headers.authorization) ? next() : sendUnauthorized(res));
}

/** While draining, answers close their connection so clients move to another replica. */
export function closeWhenDraining(state: ServerState, res: ServerResponse): void {
  if (state.phase === 'draining') res.setHeader('Connection', 'close');
}
