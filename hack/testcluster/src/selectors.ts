// Label and field selectors as the apiserver takes them: parse (400 with apimachinery's messages), match an object,
// and a metav1.LabelSelector as a matchable selector or as its string form. Pure.
import { badRequest, fieldErrorText } from './errors.js';
import { type JsonValue, type KubeObject, arrayOr, isPlainObject, objectOr, objectsOf } from './types.js';
import { labelValueErrors, qualifiedNameErrors } from './validation.js';

type LabelReq =
  | { key: string; op: 'exists' | 'notexists' }
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: '=' | '!='; values: [string] };

export type LabelSelector = LabelReq[];

/** Splits on commas that are not inside parentheses (`a in (x,y),b`). */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((x) => x.trim()).filter((x) => x !== '');
}

/** Keys must be qualified names and values label values, as labels.NewRequirement checks. */
function checkRequirement(r: LabelReq): LabelReq {
  const values = 'values' in r ? r.values : [];
  const errs = [...qualifiedNameErrors(r.key, 'key'), ...values.flatMap((v, i) => labelValueErrors(v, `values[${i}][${r.key}]`))];
  if (errs.length) throw badRequest(`unable to parse requirement: ${errs.map(fieldErrorText).join(', ')}`);
  return r;
}

export function parseLabelSelector(s: string | null | undefined): LabelSelector {
  if (!s) return [];
  return splitTop(s).map((term) => checkRequirement(parseTerm(term)));
}

function parseTerm(term: string): LabelReq {
  let m = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term);
  if (m) return { key: m[1]!, op: m[2] as 'in' | 'notin', values: m[3]!.split(',').map((v) => v.trim()).filter(Boolean) };
  m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
  if (m) return { key: m[1]!, op: m[2] === '!=' ? '!=' : '=', values: [m[3]!] };
  m = /^(!?)([A-Za-z0-9][-A-Za-z0-9_./]*)$/.exec(term);
  if (m) return { key: m[2]!, op: m[1] ? 'notexists' : 'exists' };
  throw badRequest(`unable to parse requirement: found '${term}', expected: identifier`);
}

export function matchesLabels(sel: LabelSelector, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return sel.every((r) => {
    const has = Object.hasOwn(l, r.key);
    switch (r.op) {
      case 'exists': return has;
      case 'notexists': return !has;
      case '=': return has && l[r.key] === r.values[0];
      case '!=': return !has || l[r.key] !== r.values[0];
      case 'in': return has && r.values.includes(l[r.key]!);
      case 'notin': return !has || !r.values.includes(l[r.key]!);
    }
  });
}

/** metav1.LabelSelector (matchLabels + matchExpressions) as used by Deployments, PDBs and Services. */
export function labelSelectorFromObject(sel: JsonValue | undefined): LabelSelector | undefined {
  if (!sel) return undefined;
  const o = isPlainObject(sel) ? sel : {};
  const reqs: LabelReq[] = Object.entries(objectOr(o.matchLabels)).map(([key, v]) => ({ key, op: '=', values: [String(v)] }));
  for (const e of objectsOf(o.matchExpressions)) {
    const op = String(e.operator).toLowerCase();
    const key = String(e.key);
    if (op === 'exists') reqs.push({ key, op: 'exists' });
    else if (op === 'doesnotexist') reqs.push({ key, op: 'notexists' });
    else reqs.push({ key, op: op === 'in' ? 'in' : 'notin', values: arrayOr(e.values).map(String) });
  }
  return reqs;
}

/** Renders a metav1.LabelSelector as its string form (`a=b,c in (x)`), as status.selector carries it. */
export function labelSelectorString(sel: JsonValue | undefined): string {
  return (labelSelectorFromObject(sel) ?? [])
    .map((r) => {
      if (r.op === 'exists') return r.key;
      if (r.op === 'notexists') return `!${r.key}`;
      if (r.op === '=' || r.op === '!=') return `${r.key}${r.op}${r.values[0]}`;
      return `${r.key} ${r.op} (${(r as { values: string[] }).values.join(',')})`;
    })
    .join(',');
}

export interface FieldReq {
  field: string;
  op: '=' | '!=';
  value: string;
}

export type FieldGetter = (obj: KubeObject) => string | undefined;

export function parseFieldSelector(s: string | null | undefined, supported: Record<string, FieldGetter>): FieldReq[] {
  if (!s) return [];
  return s
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
    .map((term) => {
      const m = /^([^=!]+)(==|=|!=)(.*)$/.exec(term);
      if (!m) throw badRequest(`invalid selector: '${s}'; can't understand '${term}'`);
      const field = m[1]!.trim();
      if (!supported[field]) throw badRequest(`field label not supported: ${field}`);
      return { field, op: m[2] === '!=' ? '!=' : '=', value: m[3]!.trim() } as FieldReq;
    });
}

export function matchesFields(reqs: FieldReq[], obj: KubeObject, supported: Record<string, FieldGetter>): boolean {
  return reqs.every((r) => {
    const v = supported[r.field]!(obj) ?? '';
    return r.op === '=' ? v === r.value : v !== r.value;
  });
}
