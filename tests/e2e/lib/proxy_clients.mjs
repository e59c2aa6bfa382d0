// proxy_clients.mjs — the official OpenAI and Ollama Node.js libraries
// (npm's `openai` and `ollama`, installed under build/npm by setup.sh)
// against `ledger proxy`, for tests/e2e/proxy_npm.sh. One line per call:
//   NAME <text the library handed back>
// Usage: node proxy_clients.mjs NPM_DIR PROXY_URL RUN MODEL
import { createRequire } from "node:module";

const [npmDir, base, run, model] = process.argv.slice(2);
const require = createRequire(npmDir + "/package.json");
// The runtime's own fetch (undici), as ollama's library uses, not the
// node-fetch 2 that openai 4 takes on Node by default: on Debian 12's
// Node 18 node-fetch once failed a whole, well-framed stream through the
// proxy with "Premature close" (its heuristic for a cut chunked body).
require("openai/shims/web");
const OpenAI = require("openai");
const { Ollama } = require("ollama");

const headers = { "X-Ledger-Run": run };
const openai = new OpenAI({
  apiKey: "sk-test-never-recorded",
  baseURL: base + "/v1",
  defaultHeaders: headers,
  maxRetries: 0,
});
const ollama = new Ollama({ host: base, headers });
const msgs = [{ role: "user", content: "why is the sky blue" }];

function say(name, text) {
  console.log(name + " " + JSON.stringify(text));
}

const c1 = await openai.chat.completions.create({ model, messages: msgs });
say("openai.chat", c1.choices[0].message.content);

const s1 = await openai.chat.completions.create({
  model,
  messages: msgs,
  stream: true,
  stream_options: { include_usage: true },
});
let t = "";
for await (const ch of s1) t += ch.choices[0]?.delta?.content ?? "";
say("openai.chat.stream", t);

const e1 = await openai.embeddings.create({ model, input: "hello world" });
say("openai.embeddings", e1.data.length);

const m1 = await openai.models.list();
say("openai.models", m1.data.length);

const o1 = await ollama.chat({ model, messages: msgs, stream: true });
t = "";
for await (const part of o1) t += part.message.content;
say("ollama.chat.stream", t);

const o2 = await ollama.generate({ model, prompt: "why is the sky blue",
                                   stream: false });
say("ollama.generate", o2.response);

const o3 = await ollama.embed({ model, input: ["a b", "c"] });
say("ollama.embed", o3.embeddings.length);

const o4 = await ollama.list();
say("ollama.list", o4.models.length);
