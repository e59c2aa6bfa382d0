// otlp_app.cjs — an application as the box would run one: the official
// OpenTelemetry Node SDK (@opentelemetry/sdk-node) with the official
// exporters to `ledger serve --otlp`, the `openai` client instrumented by
// @opentelemetry/instrumentation-openai (and its HTTP requests by
// @opentelemetry/instrumentation-http, which sends the W3C traceparent),
// talking to a model runtime through `ledger proxy`.
//
//   node otlp_app.cjs NPM_DIR OTLP_URL PROXY_URL MODEL json|proto|grpc [timeout]
//
// grpc: the OTLP/gRPC exporters (@opentelemetry/exporter-trace-otlp-grpc,
// -logs-otlp-grpc) to `ledger serve --otlp-grpc` at OTLP_URL.
//
// An agent span ("invoke_agent planner") holds a chat completion, an
// embeddings call and a tool execution span of its own; a log record is
// emitted in the trace. Prints the trace id, then "done" once the SDK has
// flushed and shut down (its exporters sent everything, or it says why
// not on stderr and exits 1). With "timeout": only one chat completion,
// which the app gives up on after 1.5 s (no retry), so that its span
// says error while the proxy sees the client leave.
"use strict";
const path = require("path");
const { createRequire } = require("module");

const [npmDir, otlpUrl, proxyUrl, model, encoding, mode] = process.argv.slice(2);
const need = createRequire(path.join(path.resolve(npmDir), "package.json"));

const { NodeSDK } = need("@opentelemetry/sdk-node");
const { resourceFromAttributes } = need("@opentelemetry/resources");
const { BatchLogRecordProcessor } = need("@opentelemetry/sdk-logs");
const { OpenAIInstrumentation } = need("@opentelemetry/instrumentation-openai");
const { HttpInstrumentation } = need("@opentelemetry/instrumentation-http");
const api = need("@opentelemetry/api");
const logsApi = need("@opentelemetry/api-logs");

const kind = { json: "http", proto: "proto", grpc: "grpc" }[encoding];
const { OTLPTraceExporter } = need("@opentelemetry/exporter-trace-otlp-" + kind);
const { OTLPLogExporter } = need("@opentelemetry/exporter-logs-otlp-" + kind);
const grpc = kind === "grpc";

const failures = [];
const sdk = new NodeSDK({
  resource: resourceFromAttributes({ "service.name": "otlp-e2e-agent" }),
  // (a minute, not the SDK's 10 s: CI's box runs four suites at once)
  traceExporter: new OTLPTraceExporter({ url: grpc ? otlpUrl : otlpUrl + "/v1/traces",
                                         timeoutMillis: 60000 }),
  logRecordProcessors: [
    new BatchLogRecordProcessor({
      exporter: new OTLPLogExporter({ url: grpc ? otlpUrl : otlpUrl + "/v1/logs",
                                      timeoutMillis: 60000 }),
    }),
  ],
  instrumentations: [
    new OpenAIInstrumentation({ captureMessageContent: true }),
    // the exporters' own requests are not traced
    new HttpInstrumentation({
      ignoreOutgoingRequestHook: (req) =>
        String(req.path || "").startsWith("/v1/traces") ||
        String(req.path || "").startsWith("/v1/logs"),
    }),
  ],
});
api.diag.setLogger({
  error: (m, ...a) => failures.push([m, ...a].join(" ")),
  warn: (m, ...a) => failures.push([m, ...a].join(" ")),
  info: () => {}, debug: () => {}, verbose: () => {},
}, api.DiagLogLevel.WARN);
sdk.start();

// required after the SDK started: the instrumentation patches it
const OpenAI = require(need.resolve("openai"));

async function main() {
  const client = new OpenAI({ baseURL: proxyUrl + "/v1", apiKey: "sk-otlp-e2e-SECRET" });
  const tracer = api.trace.getTracer("otlp-e2e");
  const logger = logsApi.logs.getLogger("otlp-e2e");
  let traceId;
  if (mode === "timeout") {
    await tracer.startActiveSpan("invoke_agent impatient", {
      attributes: { "gen_ai.operation.name": "invoke_agent" },
    }, async (agent) => {
      traceId = agent.spanContext().traceId;
      let failed = false;
      try {
        await client.chat.completions.create({
          model, messages: [{ role: "user", content: "why is the sky blue" }],
        }, { timeout: 1500, maxRetries: 0 });
      } catch (e) {
        failed = true;
      }
      if (!failed)
        failures.push("the chat did not time out");
      // the aborted request's HTTP span ends once its socket closes
      await new Promise((r) => setTimeout(r, 300));
      agent.end();
    });
    console.log(traceId);
    await sdk.shutdown();
    if (failures.length) {
      console.error("the SDK said: " + failures.join("; "));
      process.exit(1);
    }
    console.log("done");
    return;
  }
  await tracer.startActiveSpan("invoke_agent planner", {
    attributes: { "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner" },
  }, async (agent) => {
    traceId = agent.spanContext().traceId;
    const r = await client.chat.completions.create({
      model, messages: [{ role: "user", content: "why is the sky blue" }],
    });
    const e = await client.embeddings.create({ model, input: ["a", "b"] });
    await tracer.startActiveSpan("execute_tool get_weather", {
      attributes: { "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": "get_weather",
                    "gen_ai.tool.call.arguments": "{\"city\":\"SECRET-CITY\"}" },
    }, async (tool) => { tool.end(); });
    logger.emit({ severityNumber: logsApi.SeverityNumber.INFO, severityText: "INFO",
                  body: "planner answered: " + r.choices[0].message.content.length +
                        " characters, " + e.data.length + " embeddings" });
    agent.end();
  });
  console.log(traceId);
  await sdk.shutdown();
  if (failures.length) {
    console.error("the SDK said: " + failures.join("; "));
    process.exit(1);
  }
  console.log("done");
}

main().catch((e) => { console.error(e && e.stack || String(e)); process.exit(1); });
