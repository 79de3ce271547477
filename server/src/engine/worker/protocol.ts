// Messages between the engine (main thread) and its worker thread: commands one way; results, errors, logs and
// telemetry (step timings, for the engine's metrics and logs, never part of a result) the other.
import type { EngineInfo, GenerationRequest, GenerationResult } from '../types.js';
import type { PipelineOptions } from '../pipeline/pipeline.js';

export type ToWorker =
  | { type: 'load'; options: PipelineOptions }
  /** abortFlag: an Int32Array over a SharedArrayBuffer; the main thread stores 1 to stop at the next step. */
  | { type: 'generate'; id: number; requests: GenerationRequest[]; abortFlag: Int32Array }
  | { type: 'close' };

export interface WorkerError {
  name: string;
  message: string;
  /** GenerationRequestError's param. */
  param?: string;
}

export type FromWorker =
  | { type: 'loaded'; info: EngineInfo }
  | { type: 'load-failed'; error: WorkerError }
  /** Sent before the 'generated' of the same id: the seconds of each denoising step of that batch. */
  | { type: 'steps'; id: number; seconds: number[] }
  | { type: 'generated'; id: number; results: GenerationResult[] }
  | { type: 'failed'; id: number; error: WorkerError }
  | { type: 'closed' }
  | { type: 'log'; level: 'info' | 'warn'; message: string; fields: Record<string, unknown> };
