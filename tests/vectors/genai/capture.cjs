// capture.cjs -- makes the GenAI fixtures of tests/vectors/genai/ from
// real emitters: the instrumentation named by DIALECT, inside the official
// OpenTelemetry Node SDK, instruments the official `openai` client calling
// a fake OpenAI endpoint (below); the SDK's OTLP/HTTP protobuf exporters
// send to a capture collector here, which writes each export request as
// it came, byte for byte. Nothing in a fixture is written by hand.
//
//   node capture.cjs NPM_DIR DIALECT OUT_DIR
//
// DIALECT (the packages in tests/npm/package.json, installed in NPM_DIR):
//   otel            @opentelemetry/instrumentation-openai: a chat
//                   completion (gen_ai.* on the span, messages as GenAI
//                   log events), and an execute_tool span the app makes
//                   with the SDK's tracer, as the conventions name it
//   otel-responses  the same package, the Responses API: the messages on
//                   a gen_ai.client.inference.operation.details log event
//   openllmetry-flat @traceloop/instrumentation-openai 0.22.5:
//                   gen_ai.prompt.N.* / gen_ai.completion.N.*, llm.request.type
//   openllmetry     @traceloop/instrumentation-openai 0.27.0:
//                   gen_ai.input.messages / gen_ai.output.messages on the span
//   openinference   @arizeai/openinference-instrumentation-openai, and a
//                   TOOL span from @arizeai/openinference-core's traceTool
//
// Writes OUT_DIR/DIALECT.traces.pb (and .logs.pb when the dialect logs)
// and prints the provenance line (package, version, node) for
// tests/vectors/genai/PROVENANCE.md.
"use strict";
const http = require("http");
const fs = require("fs");
const path = require("path");
const { createRequire } = require("module");

const [npmDir, dialect, outDir] = process.argv.slice(2);
const need = createRequire(path.join(path.resolve(npmDir), "package.json"));
// a package's version, from its package.json (found above its main file:
// some export no "./package.json")
function version(p) {
  let d = path.dirname(need.resolve(p));
  for (;;) {
    const f = path.join(d, "package.json");
    if (fs.existsSync(f)) {
      const j = JSON.parse(fs.readFileSync(f, "utf8"));
      if (j.version && j.name) return j.version;
    }
    d = path.dirname(d);
  }
}

// ------------------------------------------------ the fake endpoint --
const ANSWER = "because of Rayleigh scattering";
function fakeOpenAI(req, res) {
  let body = "";
  req.on("data", (d) => (body += d));
  req.on("end", () => {
    const now = 1764000000;
    let out;
    if (req.url.endsWith("/chat/completions")) {
      out = {
        id: "chatcmpl-fixture1", object: "chat.completion", created: now,
        model: "gpt-4o-mini-2024-07-18",
        choices: [{ index: 0, finish_reason: "stop",
                    message: { role: "assistant", content: ANSWER } }],
        usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 },
      };
    } else if (req.url.endsWith("/responses")) {
      out = {
        id: "resp_fixture1", object: "response", created_at: now,
        status: "completed", model: "gpt-4o-mini-2024-07-18",
        output: [{ type: "message", id: "msg_fixture1", status: "completed",
                   role: "assistant",
                   content: [{ type: "output_text", text: ANSWER, annotations: [] }] }],
        usage: { input_tokens: 11, output_tokens: 7, total_tokens: 18,
                 input_tokens_details: { cached_tokens: 0 },
                 output_tokens_details: { reasoning_tokens: 0 } },
      };
    } else {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json", "x-request-id": "req_fixture" });
    res.end(JSON.stringify(out));
  });
}

// ---------------------------------------------- the capture collector --
const got = { traces: [], logs: [] };
function collector(req, res) {
  const chunks = [];
  req.on("data", (d) => chunks.push(d));
  req.on("end", () => {
    const sig = req.url === "/v1/traces" ? "traces" : req.url === "/v1/logs" ? "logs" : null;
    if (sig) got[sig].push(Buffer.concat(chunks));
    res.writeHead(200, { "content-type": "application/x-protobuf" });
    res.end();
  });
}

function listen(handler) {
  return new Promise((resolve) => {
    const s = http.createServer(handler);
    s.listen(0, "127.0.0.1", () => resolve(s));
  });
}

(async () => {
  const api = listen(fakeOpenAI);
  const col = listen(collector);
  const [apiSrv, colSrv] = await Promise.all([api, col]);
  const apiUrl = `http://127.0.0.1:${apiSrv.address().port}/v1`;
  const colUrl = `http://127.0.0.1:${colSrv.address().port}`;

  const { NodeSDK } = need("@opentelemetry/sdk-node");
  const { resourceFromAttributes } = need("@opentelemetry/resources");
  const { BatchLogRecordProcessor } = need("@opentelemetry/sdk-logs");
  const { OTLPTraceExporter } = need("@opentelemetry/exporter-trace-otlp-proto");
  const { OTLPLogExporter } = need("@opentelemetry/exporter-logs-otlp-proto");
  const otelApi = need("@opentelemetry/api");

  let inst, pkg;
  if (dialect === "otel" || dialect === "otel-responses") {
    pkg = "@opentelemetry/instrumentation-openai";
    const { OpenAIInstrumentation } = need(pkg);
    inst = new OpenAIInstrumentation({ captureMessageContent: true });
  } else if (dialect === "openllmetry-flat" || dialect === "openllmetry") {
    pkg = dialect === "openllmetry" ? "@traceloop/instrumentation-openai"
                                    : "traceloop-instrumentation-openai-0.22";
    const { OpenAIInstrumentation } = need(pkg);
    inst = new OpenAIInstrumentation({ traceContent: true, enrichTokens: false });
  } else if (dialect === "openinference") {
    // it instruments openai 5 to 7 and requires "openai" itself (for its
    // APIPromise): both get openai 6 here (NPM_DIR's "openai" is 4)
    const Module = require("module");
    const resolve = Module._resolveFilename;
    const six = need.resolve("openai-6");
    Module._resolveFilename = function (req, ...rest) {
      return req === "openai" ? six : resolve.call(this, req, ...rest);
    };
    pkg = "@arizeai/openinference-instrumentation-openai";
    const { OpenAIInstrumentation } = need(pkg);
    inst = new OpenAIInstrumentation();
  } else {
    console.error("capture: no dialect " + dialect);
    process.exit(64);
  }
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({ "service.name": "genai-fixture" }),
    traceExporter: new OTLPTraceExporter({ url: colUrl + "/v1/traces" }),
    logRecordProcessors: [new BatchLogRecordProcessor({
      exporter: new OTLPLogExporter({ url: colUrl + "/v1/logs" }) })],
    instrumentations: [inst],
  });
  sdk.start();
  // OpenInference's instruments openai 5 to 7 (the others, 4)
  const OpenAI = require(need.resolve(dialect === "openinference" ? "openai-6" : "openai"));
  // the instrumentations patch the module when it is loaded; those that
  // take it by hand (OpenLLMetry's, OpenInference's) are given it
  if (typeof inst.manuallyInstrument === "function") inst.manuallyInstrument(OpenAI);
  const client = new OpenAI({ baseURL: apiUrl, apiKey: "sk-fixture-SECRET" });
  const tracer = otelApi.trace.getTracer("genai-fixture");

  await tracer.startActiveSpan("invoke_agent planner", async (agent) => {
    if (dialect === "otel-responses") {
      await client.responses.create({ model: "gpt-4o-mini", input: "why is the sky blue" });
    } else {
      await client.chat.completions.create({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "why is the sky blue" }],
      });
    }
    if (dialect === "otel") {
      // the conventions' tool span, as an app's own code writes it
      await tracer.startActiveSpan("execute_tool get_weather", {
        attributes: { "gen_ai.operation.name": "execute_tool",
                      "gen_ai.tool.name": "get_weather",
                      "gen_ai.tool.call.id": "call_fixture1",
                      "gen_ai.tool.call.arguments": "{\"city\":\"SECRET-CITY\"}" },
      }, async (t) => t.end());
    } else if (dialect === "openinference") {
      const { traceTool } = need("@arizeai/openinference-core");
      const getWeather = traceTool(async (city) => `sunny in ${city}`,
                                   { name: "get_weather" });
      await getWeather("SECRET-CITY");
    }
    agent.end();
  });
  await sdk.shutdown();
  apiSrv.close();
  colSrv.close();
  fs.mkdirSync(outDir, { recursive: true });
  for (const sig of ["traces", "logs"]) {
    if (got[sig].length === 0) continue;
    if (got[sig].length > 1) {
      console.error(`capture: ${got[sig].length} ${sig} exports (want one)`);
      process.exit(1);
    }
    fs.writeFileSync(path.join(outDir, `${dialect}.${sig}.pb`), got[sig][0]);
  }
  const extra = dialect === "openinference"
    ? `, @arizeai/openinference-core ${version("@arizeai/openinference-core")}` : "";
  const real = pkg.startsWith("traceloop-") ? "@traceloop/instrumentation-openai" : pkg;
  console.log(`${dialect}: ${real} ${version(pkg)}${extra}, openai ` +
              `${version(dialect === "openinference" ? "openai-6" : "openai")}, ` +
              `@opentelemetry/sdk-node ${version("@opentelemetry/sdk-node")}, ` +
              `exporter-*-otlp-proto ${version("@opentelemetry/exporter-trace-otlp-proto")}, ` +
              `node ${process.version}`);
})().catch((e) => { console.error(e && e.stack || String(e)); process.exit(1); });
