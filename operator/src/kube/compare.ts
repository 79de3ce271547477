// Drift detection without server-side apply: a live object matches when every field we set is there with the
// same value. Fields the API server adds (defaults, status, clusterIP) are ignored; lists must match in length,
// so an added container or env var counts as drift.

/** Resource quantities the API server may store in canonical form ("0.5" -> "500m"). */
const QUANTITY = /^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const FACTORS: Record<string, number> = {
  m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};
export function quantityValue(q: string | number): number | undefined {
  const m = QUANTITY.exec(String(q));
  if (!m) return undefined;
  const n = Number(m[1]);
  return Number.isFinite(n) ? n * (m[2] ? (FACTORS[m[2]] ?? 1) : 1) : undefined;
}

const QUANTITY_PARENTS = new Set(['requests', 'limits', 'capacity']);

/** `key`: this value's key; `parentKey`: the key of the object holding it (quantities live under requests/limits). */
export function isSubset(desired: unknown, live: unknown, key = '', parentKey = ''): boolean {
  if (desired === undefined) return true;
  if (Array.isArray(desired)) {
    return Array.isArray(live) && live.length === desired.length && desired.every((d, i) => isSubset(d, live[i], key, parentKey));
  }
  if (desired !== null && typeof desired === 'object') {
    if (live === null || typeof live !== 'object' || Array.isArray(live)) return false;
    const l = live as Record<string, unknown>;
    return Object.entries(desired as Record<string, unknown>).every(([k, v]) => isSubset(v, l[k], k, key));
  }
  if (desired === live) return true;
  if (QUANTITY_PARENTS.has(parentKey) && (typeof desired === 'string' || typeof desired === 'number') && (typeof live === 'string' || typeof live === 'number')) {
    const a = quantityValue(desired);
    return a !== undefined && a === quantityValue(live);
  }
  return false;
}
