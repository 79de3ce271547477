// A CEL subset for CRD x-kubernetes-validations: a rule -> a program run on self/oldSelf, or a CelError naming the
// construct it does not support, so such a CRD is refused rather than validated wrongly. Pure.
import { type JsonPrimitive, type JsonValue, deepEqual, isPlainObject } from './types.js';

/** A value a rule sees or makes: JSON, where a field that is not set (or a list item made of one) is undefined. */
export type CelValue = JsonPrimitive | undefined | CelValue[] | { [key: string]: CelValue };

/**
 * A CEL subset for CRD x-kubernetes-validations: literals, self/oldSelf, field access, has(), the usual operators,
 * `in`, ternaries, size/startsWith/endsWith/contains/matches/lowerAscii/upperAscii, int/double/string conversions and
 * the all/exists/exists_one/map/filter macros. Anything else fails to compile with an error naming the construct,
 * so a CRD using it is rejected clearly instead of being validated wrongly.
 */

export class CelError extends Error {}

type Node =
  | { k: 'lit'; v: JsonValue }
  | { k: 'ident'; name: string }
  | { k: 'select'; obj: Node; field: string }
  | { k: 'index'; obj: Node; idx: Node }
  | { k: 'call'; fn: string; target?: Node; args: Node[] }
  | { k: 'unary'; op: string; x: Node }
  | { k: 'binary'; op: string; l: Node; r: Node }
  | { k: 'cond'; c: Node; t: Node; f: Node }
  | { k: 'list'; items: Node[] }
  | { k: 'map'; entries: Array<[Node, Node]> };

const FUNCS = new Set(['size', 'startsWith', 'endsWith', 'contains', 'matches', 'lowerAscii', 'upperAscii', 'int', 'uint', 'double', 'string', 'bool', 'has', 'all', 'exists', 'exists_one', 'map', 'filter', 'isSorted']);
const MACROS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

interface Tok {
  t: 'num' | 'str' | 'id' | 'op' | 'eof';
  v: string;
}

function tokenize(src: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const num = /^(\d+\.\d+(?:[eE][-+]?\d+)?|\d+u?)/.exec(src.slice(i));
    if (num) {
      toks.push({ t: 'num', v: num[1]! });
      i += num[1]!.length;
      continue;
    }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (id) {
      toks.push({ t: 'id', v: id[0] });
      i += id[0].length;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let s = '';
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\') {
          const n = src[j + 1];
          s += n === 'n' ? '\n' : n === 't' ? '\t' : n ?? '';
          j += 2;
        } else s += src[j++];
      }
      if (j >= src.length) throw new CelError('unterminated string literal');
      toks.push({ t: 'str', v: s });
      i = j + 1;
      continue;
    }
    const op = /^(&&|\|\||==|!=|<=|>=|[-+*/%<>!?:.,()[\]{}])/.exec(src.slice(i));
    if (!op) throw new CelError(`unexpected character '${c}'`);
    toks.push({ t: 'op', v: op[1]! });
    i += op[1]!.length;
  }
  toks.push({ t: 'eof', v: '' });
  return toks;
}

class Parser {
  private p = 0;
  constructor(private readonly toks: Tok[]) {}
  private peek(): Tok {
    return this.toks[this.p]!;
  }
  private next(): Tok {
    return this.toks[this.p++]!;
  }
  private accept(v: string): boolean {
    const t = this.peek();
    if (t.t === 'op' && t.v === v) {
      this.p++;
      return true;
    }
    return false;
  }
  private expect(v: string): void {
    if (!this.accept(v)) throw new CelError(`expected '${v}' but found '${this.peek().v || 'end of expression'}'`);
  }
  parseAll(): Node {
    const n = this.expr();
    if (this.peek().t !== 'eof') throw new CelError(`unexpected '${this.peek().v}'`);
    return n;
  }
  private expr(): Node {
    const c = this.or();
    if (this.accept('?')) {
      const t = this.expr();
      this.expect(':');
      return { k: 'cond', c, t, f: this.expr() };
    }
    return c;
  }
  private or(): Node {
    let l = this.and();
    while (this.accept('||')) l = { k: 'binary', op: '||', l, r: this.and() };
    return l;
  }
  private and(): Node {
    let l = this.rel();
    while (this.accept('&&')) l = { k: 'binary', op: '&&', l, r: this.rel() };
    return l;
  }
  private rel(): Node {
    let l = this.add();
    for (;;) {
      const t = this.peek();
      if ((t.t === 'op' && ['==', '!=', '<', '<=', '>', '>='].includes(t.v)) || (t.t === 'id' && t.v === 'in')) {
        this.p++;
        l = { k: 'binary', op: t.v, l, r: this.add() };
      } else return l;
    }
  }
  private add(): Node {
    let l = this.mul();
    for (;;) {
      const t = this.peek();
      if (t.t === 'op' && (t.v === '+' || t.v === '-')) {
        this.p++;
        l = { k: 'binary', op: t.v, l, r: this.mul() };
      } else return l;
    }
  }
  private mul(): Node {
    let l = this.unary();
    for (;;) {
      const t = this.peek();
      if (t.t === 'op' && ['*', '/', '%'].includes(t.v)) {
        this.p++;
        l = { k: 'binary', op: t.v, l, r: this.unary() };
      } else return l;
    }
  }
  private unary(): Node {
    if (this.accept('!')) return { k: 'unary', op: '!', x: this.unary() };
    if (this.accept('-')) return { k: 'unary', op: '-', x: this.unary() };
    return this.member();
  }
  private args(): Node[] {
    const args: Node[] = [];
    if (!this.accept(')')) {
      do args.push(this.expr());
      while (this.accept(','));
      this.expect(')');
    }
    return args;
  }
  private member(): Node {
    let n = this.primary();
    for (;;) {
      if (this.accept('.')) {
        const id = this.next();
        if (id.t !== 'id') throw new CelError(`expected a field name after '.'`);
        if (this.accept('(')) {
          if (!FUNCS.has(id.v)) throw new CelError(`function '${id.v}' is not supported by the test cluster's CEL subset`);
          n = { k: 'call', fn: id.v, target: n, args: this.args() };
        } else n = { k: 'select', obj: n, field: id.v };
      } else if (this.accept('[')) {
        const idx = this.expr();
        this.expect(']');
        n = { k: 'index', obj: n, idx };
      } else return n;
    }
  }
  private primary(): Node {
    const t = this.next();
    if (t.t === 'num') {
      if (t.v.includes('.')) return { k: 'lit', v: Number(t.v) };
      return { k: 'lit', v: Number(t.v.replace(/u$/, '')) };
    }
    if (t.t === 'str') return { k: 'lit', v: t.v };
    if (t.t === 'id') {
      if (t.v === 'true' || t.v === 'false') return { k: 'lit', v: t.v === 'true' };
      if (t.v === 'null') return { k: 'lit', v: null };
      if (this.accept('(')) {
        if (!FUNCS.has(t.v) || MACROS.has(t.v)) throw new CelError(`function '${t.v}' is not supported by the test cluster's CEL subset`);
        const args = this.args();
        if (t.v === 'has' && (args.length !== 1 || args[0]!.k !== 'select')) throw new CelError('invalid argument to has() macro');
        return { k: 'call', fn: t.v, args };
      }
      return { k: 'ident', name: t.v };
    }
    if (t.t === 'op' && t.v === '(') {
      const e = this.expr();
      this.expect(')');
      return e;
    }
    if (t.t === 'op' && t.v === '[') {
      const items: Node[] = [];
      if (!this.accept(']')) {
        do items.push(this.expr());
        while (this.accept(','));
        this.expect(']');
      }
      return { k: 'list', items };
    }
    if (t.t === 'op' && t.v === '{') {
      const entries: Array<[Node, Node]> = [];
      if (!this.accept('}')) {
        do {
          const key = this.expr();
          this.expect(':');
          entries.push([key, this.expr()]);
        } while (this.accept(','));
        this.expect('}');
      }
      return { k: 'map', entries };
    }
    throw new CelError(`unexpected '${t.v || 'end of expression'}'`);
  }
}

export interface CelProgram {
  eval(vars: Record<string, CelValue>): CelValue;
  usesOldSelf: boolean;
}

function usesIdent(n: Node, name: string): boolean {
  switch (n.k) {
    case 'ident': return n.name === name;
    case 'lit': return false;
    case 'select': return usesIdent(n.obj, name);
    case 'index': return usesIdent(n.obj, name) || usesIdent(n.idx, name);
    case 'call': return (n.target ? usesIdent(n.target, name) : false) || n.args.some((a) => usesIdent(a, name));
    case 'unary': return usesIdent(n.x, name);
    case 'binary': return usesIdent(n.l, name) || usesIdent(n.r, name);
    case 'cond': return usesIdent(n.c, name) || usesIdent(n.t, name) || usesIdent(n.f, name);
    case 'list': return n.items.some((a) => usesIdent(a, name));
    case 'map': return n.entries.some(([a, b]) => usesIdent(a, name) || usesIdent(b, name));
  }
}

/** Compiles a rule or throws CelError saying what is not supported. */
export function compileCel(src: string): CelProgram {
  const ast = new Parser(tokenize(src)).parseAll();
  return { eval: (vars) => evaluate(ast, vars), usesOldSelf: usesIdent(ast, 'oldSelf') };
}

const typeName = (v: CelValue): string =>
  v === null ? 'null_type' : Array.isArray(v) ? 'list' : typeof v === 'object' ? 'map' : typeof v === 'number' ? (Number.isInteger(v) ? 'int' : 'double') : typeof v === 'boolean' ? 'bool' : 'string';

// Operators apply JavaScript's own to the operands (the `as number` below only names that for the compiler): CEL's
// overload checks are not modelled beyond the ones written out.
function evaluate(n: Node, vars: Record<string, CelValue>): CelValue {
  const ev = (x: Node): CelValue => evaluate(x, vars);
  switch (n.k) {
    case 'lit': return n.v;
    case 'ident':
      if (!(n.name in vars)) throw new CelError(`undeclared reference to '${n.name}'`);
      return vars[n.name];
    case 'select': {
      const o = ev(n.obj);
      if (!isPlainObject(o) || !(n.field in o)) throw new CelError(`no such key: ${n.field}`);
      return o[n.field];
    }
    case 'index': {
      const o = ev(n.obj);
      const i = ev(n.idx);
      if (Array.isArray(o)) {
        if (typeof i !== 'number' || i < 0 || i >= o.length) throw new CelError(`index out of range: ${i}`);
        return o[i];
      }
      if (isPlainObject(o) && String(i) in o) return o[String(i)];
      throw new CelError(`no such key: ${i}`);
    }
    case 'unary': {
      const x = ev(n.x);
      if (n.op === '!') {
        if (typeof x !== 'boolean') throw new CelError(`no such overload: !${typeName(x)}`);
        return !x;
      }
      return -(x as number);
    }
    case 'cond': return ev(n.c) ? ev(n.t) : ev(n.f);
    case 'list': return n.items.map(ev);
    case 'map': return Object.fromEntries(n.entries.map(([k, v]) => [String(ev(k)), ev(v)]));
    case 'binary': {
      if (n.op === '&&') {
        // CEL's commutative logic: false wins over errors.
        let err: unknown;
        for (const side of [n.l, n.r]) {
          try {
            if (ev(side) === false) return false;
          } catch (e) {
            err = e;
          }
        }
        if (err) throw err;
        return true;
      }
      if (n.op === '||') {
        let err: unknown;
        for (const side of [n.l, n.r]) {
          try {
            if (ev(side) === true) return true;
          } catch (e) {
            err = e;
          }
        }
        if (err) throw err;
        return false;
      }
      const l = ev(n.l);
      const r = ev(n.r);
      switch (n.op) {
        case '==': return deepEqual(l, r);
        case '!=': return !deepEqual(l, r);
        case '<': return (l as number) < (r as number);
        case '<=': return (l as number) <= (r as number);
        case '>': return (l as number) > (r as number);
        case '>=': return (l as number) >= (r as number);
        case '+': return Array.isArray(l) ? [...l, ...(r as CelValue[])] : (l as number) + (r as number);
        case '-': return (l as number) - (r as number);
        case '*': return (l as number) * (r as number);
        case '/': {
          if (r === 0) throw new CelError('division by zero');
          return Number.isInteger(l) && Number.isInteger(r) ? Math.trunc((l as number) / (r as number)) : (l as number) / (r as number);
        }
        case '%': return (l as number) % (r as number);
        case 'in': return Array.isArray(r) ? r.some((x) => deepEqual(x, l)) : isPlainObject(r) ? String(l) in r : false;
      }
      throw new CelError(`unsupported operator ${n.op}`);
    }
    case 'call': return callFn(n, vars);
  }
}

function callFn(n: Extract<Node, { k: 'call' }>, vars: Record<string, CelValue>): CelValue {
  const ev = (x: Node, v = vars): CelValue => evaluate(x, v);
  if (n.fn === 'has') {
    const sel = n.args[0] as Extract<Node, { k: 'select' }>;
    const o = ev(sel.obj);
    return isPlainObject(o) && sel.field in o;
  }
  if (MACROS.has(n.fn)) {
    const coll = ev(n.target!);
    const v = n.args[0];
    if (!v || v.k !== 'ident') throw new CelError(`${n.fn}() needs a variable name`);
    const items: CelValue[] = Array.isArray(coll) ? coll : isPlainObject(coll) ? Object.keys(coll) : [];
    const run = (x: CelValue, body: Node): CelValue => ev(body, { ...vars, [v.name]: x });
    const body = n.args[n.args.length - 1]!;
    switch (n.fn) {
      case 'all': return items.every((x) => run(x, body) === true);
      case 'exists': return items.some((x) => run(x, body) === true);
      case 'exists_one': return items.filter((x) => run(x, body) === true).length === 1;
      case 'filter': return items.filter((x) => run(x, body) === true);
      case 'map': return n.args.length === 3 ? items.filter((x) => run(x, n.args[1]!) === true).map((x) => run(x, body)) : items.map((x) => run(x, body));
    }
  }
  const target = n.target ? ev(n.target) : undefined;
  const args = n.args.map((a) => ev(a));
  const subject = n.target ? target : args[0];
  switch (n.fn) {
    case 'size':
      if (typeof subject === 'string') return [...subject].length;
      if (Array.isArray(subject)) return subject.length;
      if (isPlainObject(subject)) return Object.keys(subject).length;
      throw new CelError(`no such overload: size(${typeName(subject)})`);
    case 'startsWith': return String(target).startsWith(String(args[0]));
    case 'endsWith': return String(target).endsWith(String(args[0]));
    case 'contains': return String(target).includes(String(args[0]));
    case 'matches': return new RegExp(String(args[0])).test(String(target));
    case 'lowerAscii': return String(target).toLowerCase();
    case 'upperAscii': return String(target).toUpperCase();
    case 'int':
    case 'uint': return Math.trunc(Number(subject));
    case 'double': return Number(subject);
    case 'string': return String(subject);
    case 'bool': return subject === true || subject === 'true';
    case 'isSorted': return Array.isArray(target) && target.every((x, i) => i === 0 || (target[i - 1] as number) <= (x as number));
  }
  throw new CelError(`function '${n.fn}' is not supported by the test cluster's CEL subset`);
}
