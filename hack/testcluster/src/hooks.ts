/** Request log and fault injection: what tests assert on ("no writes during a resync") and how they break things. */

export interface RequestRecord {
  method: string;
  /** URL path without the query */
  path: string;
  /** Kubernetes verb: get, list, watch, create, update, patch, delete, deletecollection (or the HTTP method) */
  verb: string;
  group?: string;
  version?: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  userAgent: string;
  query: Record<string, string>;
  time: Date;
  /** response status code; set when the response is sent */
  status?: number;
}

export interface FaultRule {
  method?: string;
  /** exact path, or a RegExp tested against the path */
  path?: string | RegExp;
  verb?: string;
  resource?: string;
  subresource?: string;
  /** HTTP status to answer with (a metav1.Status body is sent) */
  status: number;
  /** how many matching requests fail (default: 1; Infinity for all) */
  times?: number;
  message?: string;
}

export const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

export class RequestHooks {
  readonly log: RequestRecord[] = [];
  private faults: Array<FaultRule & { left: number }> = [];

  record(r: RequestRecord): void {
    this.log.push(r);
    if (this.log.length > 50000) this.log.splice(0, 25000);
  }

  injectFault(rule: FaultRule): void {
    this.faults.push({ ...rule, left: rule.times ?? 1 });
  }

  clearFaults(): void {
    this.faults = [];
  }

  /** The fault to answer a request with, consuming one of its uses. */
  takeFault(r: RequestRecord): FaultRule | undefined {
    const f = this.faults.find(
      (x) =>
        x.left > 0 &&
        (!x.method || x.method.toUpperCase() === r.method) &&
        (!x.verb || x.verb === r.verb) &&
        (!x.resource || x.resource === r.resource) &&
        (x.subresource === undefined || x.subresource === (r.subresource ?? '')) &&
        (!x.path || (typeof x.path === 'string' ? x.path === r.path : x.path.test(r.path))),
    );
    if (f) f.left--;
    return f;
  }
}
