// One conversion in its own process, so the bench reads its peak RSS: prints {report, maxRssBytes} as JSON.
// Usage: node hack/dist/bench/convert-child.js SRC OUT fp32|fp16
import { convertPipeline, type ConvertDtype } from '@hypergen/server/convert/convert-pipeline.js';

const [source, out, dtype] = process.argv.slice(2) as [string, string, ConvertDtype];
const report = convertPipeline(source, out, { dtype });
process.stdout.write(`${JSON.stringify({ report, maxRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`);
