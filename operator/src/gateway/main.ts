#!/usr/bin/env node
// hypergen-gateway: one OpenAI images endpoint for every HyperGenModel it watches. Config: flags or HYPERGEN_GATEWAY_* env.
import { pino } from 'pino';
import { ConfigError } from '../config.js';
import { loadKubeConfig } from '../operator.js';
import { GATEWAY_USAGE, parseGatewayConfig } from './config.js';
import { startGateway } from './server.js';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${GATEWAY_USAGE}\n`);
    return;
  }
  let config;
  try {
    config = parseGatewayConfig(argv, process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`hypergen-gateway: ${err.message}\n${GATEWAY_USAGE}\n`);
    process.exit(2);
  }
  // Authorization headers are never logged: request logs carry method, route, status and timing only.
  const log = pino({ name: 'hypergen-gateway', level: config.logLevel, base: { component: 'gateway' } });
  const running = await startGateway(config, loadKubeConfig(config), log, true);
  log.info({ port: running.port, metricsPort: running.metricsPort, namespaces: config.namespaces.length ? config.namespaces : 'all' }, 'hypergen-gateway running');
  const shutdown = (signal: string) => {
    log.info({ signal, drainDelayS: config.drainDelayS }, 'shutting down');
    void running.drain(config.drainDelayS * 1000).then(() => process.exit(0));
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`hypergen-gateway: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
