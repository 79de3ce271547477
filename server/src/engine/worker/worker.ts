// Worker-thread entry: owns the ONNX sessions so that session.run never blocks the server's event loop.
// The engine starts this file from server/dist (it must be compiled: run `tsc -b` first).
import { parentPort } from 'node:worker_threads';
import { AbortedError, Pipeline } from '../pipeline/pipeline.js';
import { GenerationRequestError } from '../types.js';
import type { FromWorker, ToWorker, WorkerError } from './protocol.js';

if (!parentPort) throw new Error('engine worker must run in a worker thread');
const port = parentPort;
const send = (message: FromWorker) => port.postMessage(message);
const asError = (error: unknown): WorkerError => {
  if (error instanceof GenerationRequestError) return { name: error.name, message: error.message, param: error.param };
  return error instanceof Error ? { name: error.name, message: error.message } : { name: 'Error', message: String(error) };
};

let pipeline: Pipeline | undefined;

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'load': {
      const { options } = message;
      Pipeline.load(options).then(
        (loaded) => {
          pipeline = loaded;
          send({ type: 'log', level: loaded.info.device === 'cpu' && options.device !== 'cpu' ? 'warn' : 'info', message: 'engine device', fields: { device: loaded.info.device, reason: loaded.info.deviceReason } });
          send({ type: 'loaded', info: loaded.info });
        },
        (error: unknown) => send({ type: 'load-failed', error: asError(error) }),
      );
      return;
    }
    case 'generate': {
      const { id, requests, abortFlag } = message;
      if (!pipeline) return send({ type: 'failed', id, error: { name: 'Error', message: 'engine is not loaded' } });
      pipeline.generate(requests, () => Atomics.load(abortFlag, 0) !== 0).then(
        ({ results, stepSeconds }) => {
          send({ type: 'steps', id, seconds: stepSeconds });
          send({ type: 'generated', id, results });
        },
        (error: unknown) => {
          if (error instanceof AbortedError) send({ type: 'log', level: 'info', message: 'generation aborted', fields: { detail: error.message } });
          send({ type: 'failed', id, error: asError(error) });
        },
      );
      return;
    }
    case 'close':
      void (pipeline?.close() ?? Promise.resolve()).finally(() => {
        send({ type: 'closed' });
        port.close();
      });
      return;
  }
});
