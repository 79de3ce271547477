// resource.Quantity for the test cluster: parse to a number, ParseQuantity's error text, and the canonical form
// kube-apiserver stores ("1024Mi" -> "1Gi"). Pure.
import { badRequest } from './errors.js';

const SUFFIX: Record<string, number> = {
  '': 1, n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, Pi: 1024 ** 5, Ei: 1024 ** 6,
};

/** resource.Quantity as a number ("500m" -> 0.5, "1Gi" -> 1073741824, 2 -> 2). */
export function parseQuantity(q: string | number | undefined): number {
  if (q === undefined) return 0;
  if (typeof q === 'number') return q;
  const m = /^([+-]?\d*\.?\d+)(?:[eE]([+-]?\d+))?(n|u|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(q.trim());
  if (!m) throw badRequest(`quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': ${JSON.stringify(q)}`);
  return Number(m[1]) * 10 ** Number(m[2] ?? 0) * SUFFIX[m[3] ?? '']!;
}

const DECIMAL_SI: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_SI = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];
const FORMAT = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/** resource.ParseQuantity's error for `q`, or undefined. */
export function quantityError(q: string): string | undefined {
  if (parseExact(q) !== undefined) return undefined;
  return /^[+-]?(\d+\.?\d*|\.\d+)/.test(q) ? "unable to parse quantity's suffix" : FORMAT;
}

/** `q` as value = m * 10^e (exact), with the format its suffix selects; undefined when it does not parse. */
function parseExact(q: string): { m: bigint; e: number; format: 'DecimalSI' | 'BinarySI' | 'DecimalExponent' } | undefined {
  const num = /^([+-]?)(\d*)(?:\.(\d*))?(.*)$/.exec(q);
  if (!num || (num[2] === '' && !num[3])) return undefined;
  let m = BigInt(`${num[1]}${num[2]}${num[3] ?? ''}` || '0');
  const e = -(num[3] ?? '').length;
  const suffix = num[4]!;
  const exp = /^[eE]([+-]?\d+)$/.exec(suffix);
  if (exp) return { m, e: e + Number(exp[1]), format: 'DecimalExponent' };
  if (suffix in DECIMAL_SI) return { m, e: e + DECIMAL_SI[suffix]!, format: 'DecimalSI' };
  const bin = BINARY_SI.indexOf(suffix);
  if (bin <= 0) return undefined;
  m *= 1024n ** BigInt(bin);
  return { m, e, format: 'BinarySI' };
}

/**
 * The form kube-apiserver stores and returns a resource.Quantity in (Quantity.String): "1024Mi" -> "1Gi",
 * 0.5 -> "500m", "2000m" -> "2", "1000" -> "1k", "1.5Gi" -> "1536Mi". Values are rounded up to nano units.
 */
export function canonicalQuantity(q: string | number): string {
  const p = parseExact(String(q));
  if (!p) throw badRequest(quantityError(String(q))!);
  let { m, e, format } = p;
  if (e < -9) {
    const d = 10n ** BigInt(-9 - e);
    m = m / d + (m % d > 0n ? 1n : 0n);
    e = -9;
  }
  if (m === 0n) return '0';
  if (format === 'BinarySI') {
    const int = e >= 0 ? m * 10n ** BigInt(e) : m % 10n ** BigInt(-e) === 0n ? m / 10n ** BigInt(-e) : undefined;
    if (int !== undefined && (int >= 1024n || int <= -1024n)) {
      let amount = int;
      let k = 0;
      while (amount % 1024n === 0n && k < BINARY_SI.length - 1) {
        amount /= 1024n;
        k++;
      }
      return `${amount}${BINARY_SI[k]}`;
    }
    format = 'DecimalSI';
  }
  while (m % 10n === 0n) {
    m /= 10n;
    e++;
  }
  const r = ((e % 3) + 3) % 3;
  m *= 10n ** BigInt(r);
  e -= r;
  const si = Object.entries(DECIMAL_SI).find(([, x]) => x === e)?.[0];
  return format === 'DecimalSI' && si !== undefined ? `${m}${si}` : `${m}${e === 0 ? '' : `e${e}`}`;
}
