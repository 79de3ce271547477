// The test cluster's API errors as kube-apiserver renders them: ApiError -> metav1.Status with its code, reason and
// message, the common constructors, and field errors printed as field.Error does (422 Invalid).
import { type GroupResource, type JsonObject, type JsonValue, qualifiedResource } from './types.js';

export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

/** An API error rendered as a metav1.Status with the code, reason and message format of kube-apiserver. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: JsonObject,
  ) {
    super(message);
  }

  toStatus(): JsonObject {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

const grDetails = (gr: GroupResource, name: string): JsonObject => ({
  name,
  ...(gr.group ? { group: gr.group } : {}),
  kind: gr.resource,
});

export const notFound = (gr: GroupResource, name: string): ApiError =>
  new ApiError(404, 'NotFound', `${qualifiedResource(gr)} "${name}" not found`, grDetails(gr, name));

export const alreadyExists = (gr: GroupResource, name: string): ApiError =>
  new ApiError(409, 'AlreadyExists', `${qualifiedResource(gr)} "${name}" already exists`, grDetails(gr, name));

export const conflict = (gr: GroupResource, name: string, why: string): ApiError =>
  new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualifiedResource(gr)} "${name}": ${why}`, grDetails(gr, name));

export const staleConflict = (gr: GroupResource, name: string): ApiError =>
  conflict(gr, name, 'the object has been modified; please apply your changes to the latest version and try again');

export const badRequest = (message: string): ApiError => new ApiError(400, 'BadRequest', message);

export const forbidden = (gr: GroupResource, name: string, why: string): ApiError =>
  new ApiError(403, 'Forbidden', `${qualifiedResource(gr)} "${name}" is forbidden: ${why}`, grDetails(gr, name));

export const methodNotAllowed = (): ApiError =>
  new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');

export const unsupportedMediaType = (accepted: string[]): ApiError =>
  new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`);

export const expired = (message: string): ApiError => new ApiError(410, 'Expired', message);

/** One field.Error of k8s.io/apimachinery/pkg/util/validation/field, printed the way its Error() does. */
export interface FieldError {
  type: 'FieldValueInvalid' | 'FieldValueRequired' | 'FieldValueNotSupported' | 'FieldValueForbidden' | 'FieldValueTooLong' | 'FieldValueDuplicate' | 'FieldValueTypeInvalid' | 'FieldValueTooMany' | 'FieldValueNotFound';
  field: string;
  value?: JsonValue;
  detail?: string;
}

const typeText: Record<FieldError['type'], string> = {
  FieldValueInvalid: 'Invalid value',
  FieldValueRequired: 'Required value',
  FieldValueNotSupported: 'Unsupported value',
  FieldValueForbidden: 'Forbidden',
  FieldValueTooLong: 'Too long',
  FieldValueDuplicate: 'Duplicate value',
  FieldValueTypeInvalid: 'Invalid value',
  FieldValueTooMany: 'Too many',
  FieldValueNotFound: 'Not found',
};

const withValue = new Set<FieldError['type']>(['FieldValueInvalid', 'FieldValueNotSupported', 'FieldValueDuplicate', 'FieldValueTypeInvalid', 'FieldValueNotFound']);

/** Go's %#v-ish rendering used by field errors: strings quoted, numbers and bools bare. */
export function goValue(v: JsonValue | undefined): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'object') return Array.isArray(v) ? `[]interface {}{${v.map(goValue).join(', ')}}` : '"object"';
  return String(v);
}

/** `Invalid value: -1: must be ...` (the cause message; the full error prefixes the field). */
export function fieldErrorBody(e: FieldError): string {
  let s = typeText[e.type];
  if (withValue.has(e.type)) s += `: ${goValue(e.value)}`;
  if (e.detail) s += `: ${e.detail}`;
  return s;
}

export const fieldErrorText = (e: FieldError): string => `${e.field}: ${fieldErrorBody(e)}`;

/** 422 Invalid exactly as kube-apiserver builds it (errors.NewInvalid). */
export function invalid(kind: string, group: string, name: string, errs: FieldError[]): ApiError {
  const texts = errs.map(fieldErrorText);
  const qualifiedKind = group ? `${kind}.${group}` : kind;
  const msg = `${qualifiedKind} "${name}" is invalid: ${texts.length === 1 ? texts[0] : `[${texts.join(', ')}]`}`;
  return new ApiError(422, 'Invalid', msg, {
    name,
    ...(group ? { group } : {}),
    kind,
    causes: errs.map((e) => ({ reason: e.type, message: fieldErrorBody(e), field: e.field })),
  });
}
