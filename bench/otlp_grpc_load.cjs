// otlp_grpc_load.cjs -- the OTLP/gRPC load of bench/otlp.sh: the requests
// bench/otlp_load.c made (otlp_load dump DIR CONNS BATCHES: DIR/K.B.pb,
// the same 512 chat spans a batch as its pb mode sends), over Node.js's
// own HTTP/2 client to `ledger serve --otlp-grpc`.
//
//   node otlp_grpc_load.cjs HOST:PORT DIR CONNS BATCHES
//
// Each of CONNS connections calls TraceService/Export with its BATCHES
// requests, one at a time (an SDK's batch processor sends the next batch
// when the last is answered). Every message is read and framed before
// the clock starts. Prints, as otlp_load does,
//
//   otlp_load mode=grpc conns=4 spans=51200 secs=0.812 sps=63054 errors=0
//
// and exits 1 when a call was not answered OK.
"use strict";
const http2 = require("http2");
const fs = require("fs");
const path = require("path");

const [addr, dir, conns, batches] = process.argv.slice(2);
const NC = Number(conns), NB = Number(batches), BATCH = 512;
const msgs = [];
for (let k = 0; k < NC; k++) {
  msgs.push([]);
  for (let b = 0; b < NB; b++) {
    const m = fs.readFileSync(path.join(dir, `${k}.${b}.pb`));
    const p = Buffer.alloc(5);
    p.writeUInt32BE(m.length, 1);
    msgs[k].push(Buffer.concat([p, m]));
  }
}
let errors = 0;
function call(client, body) {
  return new Promise((resolve) => {
    const req = client.request({
      ":method": "POST",
      ":path": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
      "content-type": "application/grpc",
      te: "trailers",
    });
    let status = null;
    req.on("response", (h) => {
      if (h["grpc-status"] !== undefined) status = h["grpc-status"];
    });
    req.on("trailers", (t) => { status = t["grpc-status"]; });
    req.on("data", () => {});
    req.on("end", () => { if (status !== "0") errors++; resolve(); });
    req.on("error", () => { errors++; resolve(); });
    req.end(body);
  });
}
async function conn(k) {
  const client = http2.connect("http://" + addr);
  client.on("error", () => {});
  for (const m of msgs[k]) await call(client, m);
  client.close();
}
const t0 = process.hrtime.bigint();
Promise.all(Array.from({ length: NC }, (_, k) => conn(k))).then(() => {
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const spans = NC * NB * BATCH;
  console.log(`otlp_load mode=grpc conns=${NC} spans=${spans} secs=${secs.toFixed(3)} ` +
              `sps=${Math.round(spans / secs)} errors=${errors}`);
  process.exit(errors ? 1 : 0);
});
