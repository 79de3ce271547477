// The serving process's phase (loading -> ready -> draining), its engine info and load time, read by the probes,
// /health and /v1/models.
import type { EngineInfo } from '../engine/types.js';

export type Phase = 'loading' | 'ready' | 'draining';

/** Lifecycle of the serving process, read by /health and the probes. */
export class ServerState {
  phase: Phase = 'loading';
  /** Unix seconds when the model finished loading: /v1/models' `created`. */
  loadedAt = Math.floor(Date.now() / 1000);
  engine: EngineInfo | undefined;

  ready(info: EngineInfo): void {
    this.engine = info;
    this.loadedAt = Math.floor(Date.now() / 1000);
    if (this.phase === 'loading') this.phase = 'ready';
  }

  drain(): void {
    this.phase = 'draining';
  }
}
