// No import circles in the product or the tooling: every relative import of server/src, operator/src, hack/src and
// hack/testcluster/src (TypeScript's own pre-processor lists them, type-only imports included) forms a graph without
// cycles. A loop is always a type or helper living in the wrong file. The test cluster is a package: code and tests
// outside it import it as @hypergen/testcluster, never by a relative path into it.
import { describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { REPO_ROOT } from '../../src/server-process.js';

const SOURCE_ROOTS = ['server/src', 'operator/src', 'hack/src', 'hack/testcluster/src'];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

/** file -> the files it imports by relative path (`./x.js` resolves to `./x.ts`). */
function importGraph(roots = SOURCE_ROOTS): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of roots.flatMap((root) => sources(join(REPO_ROOT, root)))) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = importedFiles
      .map((ref) => ref.fileName)
      .filter((spec) => spec.startsWith('.'))
      .map((spec) => resolve(dirname(file), spec.replace(/\.js$/, '.ts')))
      .filter((target) => existsSync(target));
    graph.set(file, targets);
  }
  return graph;
}

/** Strongly connected components with more than one file (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(relative(REPO_ROOT, w));
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('imports', () => {
  it('finds a circle when there is one (the detector itself)', () => {
    expect(cycles(new Map([['/a', ['/b']], ['/b', ['/c']], ['/c', ['/a']], ['/d', ['/a']]]))).toHaveLength(1);
  });

  it('form no circles in server/src, operator/src, hack/src and hack/testcluster/src', () => {
    const graph = importGraph();
    expect(graph.size).toBeGreaterThan(100);
    expect(cycles(graph)).toEqual([]);
  });

  it('reach the test cluster only by its package name from outside hack/testcluster', () => {
    const graph = importGraph(['server/src', 'server/test', 'operator/src', 'operator/test', 'hack/src', 'hack/test']);
    const inside = join(REPO_ROOT, 'hack/testcluster') + '/';
    const reaching = [...graph].flatMap(([file, targets]) => targets.filter((t) => t.startsWith(inside)).map((t) => `${relative(REPO_ROOT, file)} -> ${relative(REPO_ROOT, t)}`));
    expect(reaching).toEqual([]);
  });
});
