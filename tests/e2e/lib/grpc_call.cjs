// grpc_call.cjs -- one raw OTLP/gRPC call (or a hostile variant of one)
// over Node.js's own HTTP/2 client, for tests/e2e/otlp_grpc.sh. Not the
// SDK's exporter (tests/e2e/otlp_grpc_npm.sh runs that): this one can send
// what an exporter never would.
//
//   node grpc_call.cjs HOST:PORT|unix:PATH PATH FILE [options]
//     PATH     traces, logs, or a method path (/pkg.Service/Method)
//     FILE     the message (protobuf), "-" for none
//   options:
//     --gzip             compress the message (grpc-encoding: gzip)
//     --encoding E       send grpc-encoding E (the message as it is)
//     --flag N           the prefix's compressed flag (default: 1 with --gzip)
//     --declare N        declare N bytes in the prefix (sends FILE as it is)
//     --type T           content-type (default application/grpc)
//     --twice            two messages in the call
//     --streams N        N calls at once on one connection (same message)
//
// Prints one JSON line per call: {"status":HTTP,"grpc":CODE,"message":...,
// "retry_s":N|null,"body":HEX}, and {"goaway":CODE,"debug":TEXT} when the
// server sends a GOAWAY; exit 0 (the test judges), 2 when the connection
// failed (its error printed as {"error":...}).
const http2 = require("http2");
const fs = require("fs");
const zlib = require("zlib");

const argv = process.argv.slice(2);
const [addr, pathArg, file] = argv;
const opt = {};
for (let i = 3; i < argv.length; i++) {
  const k = argv[i].replace(/^--/, "");
  if (k === "gzip" || k === "twice") opt[k] = true;
  else opt[k] = argv[++i];
}
const path =
  pathArg === "traces"
    ? "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
    : pathArg === "logs"
      ? "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
      : pathArg;
// FILE,FILE,...: one call for each, all at once, each printed as it ends
// (with "i", its index)
const files = file === "-" ? [null] : file.split(",");
const msgs = files.map((f) => {
  const m = f === null ? null : fs.readFileSync(f);
  return m && opt.gzip ? zlib.gzipSync(m) : m;
});

function frame(m) {
  const p = Buffer.alloc(5);
  const flag = opt.flag !== undefined ? Number(opt.flag) : opt.gzip ? 1 : 0;
  p[0] = flag;
  p.writeUInt32BE(opt.declare !== undefined ? Number(opt.declare) : m.length, 1);
  return Buffer.concat([p, m]);
}

// google.rpc.Status's details -> RetryInfo's delay in seconds, read from
// the protobuf wire format (only the fields needed)
function fields(buf) {
  const out = [];
  let i = 0;
  const varint = () => {
    let v = 0n, s = 0n;
    for (;;) {
      const b = buf[i++];
      v |= BigInt(b & 0x7f) << s;
      if (!(b & 0x80)) return v;
      s += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const no = key >> 3, wt = key & 7;
    if (wt === 0) out.push([no, varint()]);
    else if (wt === 2) {
      const n = Number(varint());
      out.push([no, buf.subarray(i, i + n)]);
      i += n;
    } else return out;
  }
  return out;
}
function retrySeconds(bin) {
  if (!bin) return null;
  for (const [no, any] of fields(Buffer.from(bin, "base64"))) {
    if (no !== 3) continue;
    const f = fields(any);
    const url = f.find(([n]) => n === 1);
    const val = f.find(([n]) => n === 2);
    if (!url || String(url[1]) !== "type.googleapis.com/google.rpc.RetryInfo")
      continue;
    const dur = fields(val[1]).find(([n]) => n === 1);
    const secs = dur ? fields(dur[1]).find(([n]) => n === 1) : null;
    return secs ? Number(secs[1]) : 0;
  }
  return null;
}

const url = addr.startsWith("unix:") ? "http://localhost" : "http://" + addr;
const copts = addr.startsWith("unix:")
  ? { createConnection: () => require("net").connect(addr.slice(5)) }
  : {};
const client = http2.connect(url, copts);
client.on("goaway", (code, last, data) => {
  console.log(
    JSON.stringify({ goaway: code, debug: data ? data.toString() : "" }),
  );
});
client.on("error", (e) => {
  console.log(JSON.stringify({ error: String(e.message || e) }));
  process.exit(2);
});

function call(msg) {
  return new Promise((resolve) => {
    const h = {
      ":method": "POST",
      ":path": path,
      "content-type": opt.type || "application/grpc",
      te: "trailers",
    };
    if (opt.gzip) h["grpc-encoding"] = "gzip";
    if (opt.encoding) h["grpc-encoding"] = opt.encoding;
    const req = client.request(h);
    const res = { status: null, grpc: null, message: null, retry_s: null };
    const chunks = [];
    req.on("response", (hd) => {
      res.status = hd[":status"];
      if (hd["grpc-status"] !== undefined) {
        res.grpc = Number(hd["grpc-status"]);
        res.message = decodeURIComponent(hd["grpc-message"] || "");
        res.retry_s = retrySeconds(hd["grpc-status-details-bin"]);
      }
    });
    req.on("trailers", (t) => {
      res.grpc = Number(t["grpc-status"]);
      res.message = decodeURIComponent(t["grpc-message"] || "");
      res.retry_s = retrySeconds(t["grpc-status-details-bin"]);
    });
    req.on("data", (d) => chunks.push(d));
    const done = () => {
      const b = Buffer.concat(chunks);
      res.body = b.length >= 5 ? b.subarray(5).toString("hex") : "";
      resolve(res);
    };
    req.on("end", done);
    req.on("error", (e) => {
      res.error = String(e.code || e.message);
      resolve(res);
    });
    if (msg) {
      req.write(frame(msg));
      if (opt.twice) req.write(frame(msg));
    }
    req.end();
  });
}

(async () => {
  if (msgs.length > 1) {
    await Promise.all(
      msgs.map((m, i) =>
        call(m).then((r) => console.log(JSON.stringify({ i, ...r }))),
      ),
    );
  } else {
    const n = Number(opt.streams || 1);
    const all = await Promise.all(Array.from({ length: n }, () => call(msgs[0])));
    for (const r of all) console.log(JSON.stringify(r));
  }
  client.close();
})();
