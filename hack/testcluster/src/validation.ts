// Object name and metadata syntax as kube-apiserver validates it (DNS labels/subdomains, qualified names, label values).
import type { FieldError } from './errors.js';
import { type JsonObject, type JsonValue, arrayOr, objectOr } from './types.js';

const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

const SUBDOMAIN_MSG = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_MSG = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const LABEL_VALUE_MSG = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const QUALIFIED_MSG = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

/** What name validation needs of a resource definition (its group and plural name), nothing more. */
interface NamedResource {
  readonly group: string;
  readonly resource: string;
}

function nameRule(def: NamedResource): { re: RegExp; msg: string; max: number } | undefined {
  if (def.group === 'rbac.authorization.k8s.io') return undefined;
  if (def.resource === 'namespaces') return { re: LABEL, msg: LABEL_MSG, max: 63 };
  if (def.resource === 'services') return { re: DNS1035, msg: DNS1035_MSG, max: 63 };
  return { re: SUBDOMAIN, msg: SUBDOMAIN_MSG, max: 253 };
}

export function qualifiedNameErrors(k: string, field: string): FieldError[] {
  const parts = k.split('/');
  const name = parts[parts.length - 1]!;
  const errs: FieldError[] = [];
  if (parts.length > 2 || (parts.length === 2 && !SUBDOMAIN.test(parts[0]!))) errs.push({ type: 'FieldValueInvalid', field, value: k, detail: `prefix part ${SUBDOMAIN_MSG}` });
  if (!QUALIFIED.test(name) || name.length > 63) errs.push({ type: 'FieldValueInvalid', field, value: k, detail: QUALIFIED_MSG });
  return errs;
}

const WILDCARD_MSG = "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/** A DNS-1123 label (container names and the like). */
export function labelNameErrors(name: string, field: string): FieldError[] {
  return LABEL.test(name) && name.length <= 63 ? [] : [{ type: 'FieldValueInvalid', field, value: name, detail: name.length > 63 ? 'must be no more than 63 characters' : LABEL_MSG }];
}

/** An Ingress rule host: a DNS subdomain (or `*.` wildcard one), not an IP address. */
export function hostErrors(host: string, field: string): FieldError[] {
  const errs: FieldError[] = [];
  if (/^\d{1,3}(\.\d{1,3}){3}$|^[0-9a-fA-F]*:[0-9a-fA-F:]*$/.test(host)) errs.push({ type: 'FieldValueInvalid', field, value: host, detail: 'must be a DNS name, not an IP address' });
  if (host.includes('*')) {
    if (!host.startsWith('*.') || !SUBDOMAIN.test(host.slice(2))) errs.push({ type: 'FieldValueInvalid', field, value: host, detail: WILDCARD_MSG });
  } else if (!SUBDOMAIN.test(host) || host.length > 253) errs.push({ type: 'FieldValueInvalid', field, value: host, detail: host.length > 253 ? 'must be no more than 253 characters' : SUBDOMAIN_MSG });
  return errs;
}

/** A label value: empty, or at most 63 alphanumerics, '-', '_' or '.' starting and ending alphanumeric. */
export function labelValueErrors(v: JsonValue | undefined, field: string): FieldError[] {
  return typeof v !== 'string' || (v !== '' && (!QUALIFIED.test(v) || v.length > 63)) ? [{ type: 'FieldValueInvalid', field, value: v, detail: LABEL_VALUE_MSG }] : [];
}

/** ObjectMeta validation shared by every type (name, labels, annotation keys, finalizers). */
export function validateMeta(def: NamedResource, obj: JsonObject): FieldError[] {
  const m = objectOr(obj.metadata);
  const errs: FieldError[] = [];
  const rule = nameRule(def);
  const name = m.name;
  if (!name) errs.push({ type: 'FieldValueRequired', field: 'metadata.name', detail: 'name or generateName is required' });
  else if (rule && (!rule.re.test(String(name)) || (typeof name === 'string' && name.length > rule.max))) errs.push({ type: 'FieldValueInvalid', field: 'metadata.name', value: name, detail: rule.msg });
  for (const [k, v] of Object.entries(objectOr(m.labels))) {
    errs.push(...qualifiedNameErrors(k, 'metadata.labels'));
    errs.push(...labelValueErrors(v, 'metadata.labels'));
  }
  for (const k of Object.keys(objectOr(m.annotations))) errs.push(...qualifiedNameErrors(k, 'metadata.annotations'));
  arrayOr(m.finalizers).forEach((f, i) => {
    if (typeof f !== 'string' || !f) errs.push({ type: 'FieldValueInvalid', field: `metadata.finalizers[${i}]`, value: f, detail: 'must be a qualified name' });
  });
  const refs = arrayOr(m.ownerReferences).map(objectOr);
  refs.forEach((r, i) => {
    for (const f of ['apiVersion', 'kind', 'name', 'uid']) if (!r[f]) errs.push({ type: 'FieldValueRequired', field: `metadata.ownerReferences[${i}].${f}`, detail: '' });
  });
  const controllers = refs.filter((r) => r.controller === true).map((r) => `${r.kind}/${r.name}`);
  if (controllers.length > 1) {
    errs.push({ type: 'FieldValueInvalid', field: 'metadata.ownerReferences', value: m.ownerReferences, detail: `Only one reference can have Controller set to true. Found "true" in references for ${controllers[0]} and ${controllers[1]}` });
  }
  return errs;
}
