#!/usr/bin/env node
// hypergen-operator: reconciles HyperGenModel resources. Config: flags or HYPERGEN_OPERATOR_* env (see --help).
import { ConfigError, parseConfig, USAGE } from './config.js';
import { createLogger } from './logger.js';
import { loadKubeConfig, startOperator } from './operator.js';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  let config;
  try {
    config = parseConfig(argv, process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`hypergen-operator: ${err.message}\n${USAGE}\n`);
    process.exit(2);
  }
  const log = createLogger(config.logLevel);
  const running = await startOperator(config, loadKubeConfig(config), log, { defaultMetrics: true });
  log.info({ port: running.port, leaderElect: config.leaderElect, identity: config.identity }, 'hypergen-operator running');
  const shutdown = (signal: string) => {
    log.info({ signal }, 'shutting down');
    void running.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  // Lost leadership: exit so the Deployment restarts us as a fresh candidate (client-go does the same).
  void running.lost.then(() => process.exit(1));
}

main().catch((err: unknown) => {
  process.stderr.write(`hypergen-operator: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
