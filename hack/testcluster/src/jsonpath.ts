// The JSONPath subset printer columns use (.a.b, ['a.b'], [0], [*], [?(@.k=="v")]): parse, then evaluate to every
// match, as client-go's jsonpath does. Pure.
import { badRequest } from './errors.js';
import { type JsonValue, isPlainObject } from './types.js';

/**
 * The JSONPath subset that printer columns use: `.a.b`, `['a.b']`, `[0]`, `[*]` and `[?(@.k=="v")]`
 * (also `!=` and numeric literals). Returns every match, like k8s.io/client-go/util/jsonpath.
 */
type Step = { kind: 'field'; name: string } | { kind: 'index'; i: number } | { kind: 'all' } | { kind: 'filter'; path: string[]; op: '==' | '!='; value: JsonValue };

export function parseJsonPath(expr: string): Step[] {
  let s = expr.trim();
  if (s.startsWith('{') && s.endsWith('}')) s = s.slice(1, -1);
  if (s.startsWith('$')) s = s.slice(1);
  const steps: Step[] = [];
  let i = 0;
  while (i < s.length) {
    if (s[i] === '.') {
      const m = /^\.([A-Za-z0-9_\-$]*)/.exec(s.slice(i));
      if (!m) throw badRequest(`unsupported JSONPath ${expr}`);
      if (m[1]) steps.push({ kind: 'field', name: m[1] });
      i += m[0].length;
    } else if (s[i] === '[') {
      const end = s.indexOf(']', i);
      if (end < 0) throw badRequest(`unterminated [ in JSONPath ${expr}`);
      const inner = s.slice(i + 1, end).trim();
      const f = /^\?\(@((?:\.[A-Za-z0-9_-]+)+)\s*(==|!=)\s*(.+)\)$/.exec(inner);
      if (inner === '*') steps.push({ kind: 'all' });
      else if (/^-?\d+$/.test(inner)) steps.push({ kind: 'index', i: Number(inner) });
      else if (/^'.*'$|^".*"$/.test(inner)) steps.push({ kind: 'field', name: inner.slice(1, -1) });
      else if (f) {
        const raw = f[3]!.trim();
        const value = /^'.*'$|^".*"$/.test(raw) ? raw.slice(1, -1) : raw === 'true' ? true : raw === 'false' ? false : Number(raw);
        steps.push({ kind: 'filter', path: f[1]!.slice(1).split('.'), op: f[2] as '==' | '!=', value });
      } else throw badRequest(`unsupported JSONPath ${expr}`);
      i = end + 1;
    } else throw badRequest(`unsupported JSONPath ${expr}`);
  }
  return steps;
}

/** Every match; an `[*]` over an object also yields its keys set to undefined (as they are, before serialisation). */
export function evalJsonPath(steps: Step[], root: JsonValue | undefined): Array<JsonValue | undefined> {
  let cur: Array<JsonValue | undefined> = [root];
  for (const st of steps) {
    const next: Array<JsonValue | undefined> = [];
    for (const v of cur) {
      if (st.kind === 'field') {
        if (isPlainObject(v) && v[st.name] !== undefined) next.push(v[st.name]);
      } else if (st.kind === 'index') {
        if (Array.isArray(v)) {
          const x = v[st.i < 0 ? v.length + st.i : st.i];
          if (x !== undefined) next.push(x);
        }
      } else if (st.kind === 'all') {
        if (Array.isArray(v)) next.push(...v);
        else if (isPlainObject(v)) next.push(...Object.values(v));
      } else if (Array.isArray(v)) {
        for (const el of v) {
          let x: JsonValue | undefined = el;
          for (const p of st.path) x = isPlainObject(x) ? x[p] : undefined;
          if (x !== undefined && (st.op === '==' ? x === st.value : x !== st.value)) next.push(el);
        }
      }
    }
    cur = next;
  }
  return cur;
}
