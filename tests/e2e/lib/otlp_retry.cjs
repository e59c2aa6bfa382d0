// otlp_retry.cjs — the official OTLP/HTTP exporters (JSON or protobuf)
// against a receiver that is behind: N tracer providers, each with its
// own exporter, flush at the same moment; the receiver (started with
// --otlp-backlog 1) answers all but one 429 or 503 with Retry-After, and
// the exporters must retry until every batch is in.
//
//   node otlp_retry.cjs NPM_DIR OTLP_URL json|proto N SPANS
//
// Prints one trace id a provider, then "retries R" (the exporters'
// retries it saw, from the SDK's own log) and "done"; exits 1, saying
// why, when an export failed.
"use strict";
const path = require("path");
const { createRequire } = require("module");

const [npmDir, otlpUrl, encoding, nStr, spansStr] = process.argv.slice(2);
const need = createRequire(path.join(path.resolve(npmDir), "package.json"));
const api = need("@opentelemetry/api");
const { BasicTracerProvider, BatchSpanProcessor } = need("@opentelemetry/sdk-trace-base");
const { resourceFromAttributes } = need("@opentelemetry/resources");
const { OTLPTraceExporter } = need(
  encoding === "proto" ? "@opentelemetry/exporter-trace-otlp-proto"
                       : "@opentelemetry/exporter-trace-otlp-http");

let retries = 0;
const failures = [];
api.diag.setLogger({
  error: (m, ...a) => failures.push([m, ...a].join(" ")),
  warn: (m, ...a) => failures.push([m, ...a].join(" ")),
  info: (m) => { if (/failed|not retrying/i.test(m)) failures.push(m); },
  debug: () => {},
  verbose: (m) => { if (/Scheduling export retry/.test(m)) retries++; },
}, api.DiagLogLevel.VERBOSE);

async function main() {
  const n = Number(nStr), spans = Number(spansStr);
  const providers = [];
  for (let i = 0; i < n; i++) {
    const exporter = new OTLPTraceExporter({ url: otlpUrl + "/v1/traces",
                                             timeoutMillis: 30000 });
    exporter.export = ((orig) => (items, cb) => orig.call(exporter, items, (r) => {
      if (r.code !== 0) failures.push("export " + i + ": " + (r.error && r.error.message));
      cb(r);
    }))(exporter.export);
    providers.push(new BasicTracerProvider({
      resource: resourceFromAttributes({ "service.name": "otlp-retry-" + i }),
      spanProcessors: [new BatchSpanProcessor(exporter, {
        maxExportBatchSize: spans, maxQueueSize: spans * 2,
        scheduledDelayMillis: 60000, exportTimeoutMillis: 30000 })],
    }));
  }
  for (const p of providers) {
    const tracer = p.getTracer("otlp-retry");
    const root = tracer.startSpan("invoke_agent", {
      attributes: { "gen_ai.operation.name": "invoke_agent" } });
    console.log(root.spanContext().traceId);
    const ctx = api.trace.setSpan(api.context.active(), root);
    for (let k = 1; k < spans; k++) {
      const s = tracer.startSpan("chat m", { attributes: {
        "gen_ai.operation.name": "chat", "gen_ai.request.model": "m",
        "gen_ai.usage.input_tokens": k } }, ctx);
      s.end();
    }
    root.end();
  }
  // every provider's batch at once: the receiver takes one at a time
  await Promise.all(providers.map((p) => p.forceFlush()));
  await Promise.all(providers.map((p) => p.shutdown()));
  console.log("retries " + retries);
  if (failures.length) {
    console.error("the SDK said: " + failures.join("; "));
    process.exit(1);
  }
  console.log("done");
}

main().catch((e) => { console.error(e && e.stack || String(e)); process.exit(1); });
