#!/usr/bin/env python3
"""stub.py - a loopback stand-in for the model runtimes the ledger talks to.

Answers with the response shapes the runtimes document:
  Ollama      GET /api/tags, POST /api/show, GET /api/ps, GET /api/version
  Ollama      POST /api/chat, /api/generate (NDJSON streams by default,
              "stream": false for one object), POST /api/embed
  OpenAI-compatible (vLLM, LM Studio, llama.cpp, Ollama's /v1)
              GET /v1/models, POST /v1/chat/completions, /v1/completions
              ("stream": true: Server-Sent Events, with a usage chunk when
              stream_options.include_usage), POST /v1/embeddings
  Token counts are words: tokens in = words of the prompt, tokens out =
  words of the answer; an answer streams one word a chunk.
  llama.cpp   GET /props, GET /health
and misbehaves on demand, for the HTTP client's tests:
  /ok                 200 "hello" (ETag "v1", text/plain)
  /status/N           status N with a short body (3xx: with a Location)
  /hang               headers and 5 bytes of a 100-byte body, then nothing
  /drip?n=N&ms=M      N bytes, one every M ms (chunked)
  /big?bytes=N        N bytes with a Content-Length
  /bigchunked?bytes=N N bytes, chunked (no length up front)
  /truncated          Content-Length 100, 10 bytes, then the socket closes
  /flaky?key=K&fail=N the first N requests with key K get 503, then 200
  /echo               JSON of the method, path, headers and body it got

State comes from a JSON file (--state FILE), re-read on every request so a
test can change a model between two probes:
  {"models": [{"name", "digest", "size", "format", "family",
               "quant", "parameter_size", "loaded": bool}],
   "version": "0.5.7", "alias": "name llama.cpp claims",
   "model_path": "/m/x.gguf",
   "answers": {"prompt text": "reply"}, "default_answer": "...",
   "delay_ms": 0, "strict_models": false (true: a model call naming a
   model not in "models" gets 404),
   "fail": {"/api/tags": "500"|"hang"|"truncated"|"big"|"drip"|"badjson"|
            "empty"|"streamhang"|"streamcut"|"streamshort"|"close"}}
   ("streamhang": a stream's first chunk, then nothing; "streamcut": two
   chunks, then the connection closes without the end; "streamshort": an
   NDJSON stream with a Content-Length of 500 and one 53-byte line, then
   the connection closes; "empty": 200 with no body; "close": the
   connection closes before any answer), "chunk_ms": a pause between the
   chunks of a stream, "gate": a file a model call's stream waits for
   (60 s at most) after its first chunk, so a test can tell a chunk
   forwarded as it came from one held to the end.
A chat reply is answers[last user message] or default_answer. With
--port-file, the chosen port is written there; it is always printed on
stdout as the first line. Binds 127.0.0.1 only, port 0 (the kernel's pick).
"""
import argparse
import json
import os
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse

STATE = {"path": None}
FLAKY = {}
LOCK = threading.Lock()


def load_state():
    """The state file, parsed again only when it changed (a state of
    20,000 models is not parsed for each of 20,000 /api/show requests)."""
    if not STATE["path"]:
        return {}
    try:
        st = os.stat(STATE["path"])
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        with LOCK:
            if STATE.get("key") == key:
                return STATE["cached"]
        with open(STATE["path"]) as f:
            data = json.load(f)
        data["_by_name"] = {m.get("name"): m for m in data.get("models", [])
                            if isinstance(m, dict)}
        with LOCK:
            STATE["key"] = key
            STATE["cached"] = data
        return data
    except (OSError, ValueError):
        return {}


def details(m):
    return {
        "parent_model": "",
        "format": m.get("format", "gguf"),
        "family": m.get("family", "llama"),
        "families": [m.get("family", "llama")],
        "parameter_size": m.get("parameter_size", "7B"),
        "quantization_level": m.get("quant", "Q4_K_M"),
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, status, body, ctype="application/json", extra=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def chunked(self, pieces, ms=0):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for p in pieces:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(p), p))
            self.wfile.flush()
            if ms:
                time.sleep(ms / 1000.0)
        self.wfile.write(b"0\r\n\r\n")

    def misbehave(self, how, q):
        if how == "hang":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b'{"a":')
            self.wfile.flush()
            time.sleep(3600)
        elif how == "truncated":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b'{"models":[')
            self.wfile.flush()
            self.close_connection = True
        elif how == "streamhang":
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            piece = b'{"model":"m","response":"a","done":false}\n'
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.flush()
            time.sleep(3600)
        elif how == "streamcut":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(2):
                piece = b'data: {"model":"m","choices":[{"delta":{"content":"a"}}]}\n\n'
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.flush()
            self.close_connection = True
        elif how == "close":
            self.close_connection = True
            import socket
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        elif how == "badjson":
            self.send(200, '{"models": [ {"name": ')
        elif how == "empty":
            self.send(200, "")
        elif how == "streamshort":
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Content-Length", "500")
            self.end_headers()
            self.wfile.write(b'{"model":"m","message":{"content":"a"},"done":false}\n')
            self.wfile.flush()
            self.close_connection = True
        elif how == "big":
            n = int(q.get("bytes", [str(100 * 1024 * 1024)])[0])
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            block = b" " * 65536
            try:
                while n > 0:
                    k = min(n, len(block))
                    self.wfile.write(block[:k])
                    n -= k
            except OSError:
                pass
            self.close_connection = True
        elif how == "bigchunked":
            n = int(q.get("bytes", [str(100 * 1024 * 1024)])[0])
            try:
                self.chunked((b"x" * min(65536, n - i)
                              for i in range(0, n, 65536)))
            except OSError:
                pass
            self.close_connection = True
        elif how == "drip":
            n = int(q.get("n", ["50"])[0])
            ms = int(q.get("ms", ["100"])[0])
            try:
                self.chunked((b"." for _ in range(n)), ms)
            except OSError:
                pass
        elif how == "openai401":
            # as OpenAI answers a bad key: its message quotes the key
            self.send(401, {"error": {
                "message": "Incorrect API key provided: %s"
                % self.headers.get("Authorization", ""),
                "type": "invalid_request_error", "param": None,
                "code": "invalid_api_key"}})
        elif how.isdigit() and 300 <= int(how) < 400:
            # a redirect, as a front end sending http:// to https://
            self.send(int(how), "moved", "text/plain",
                      {"Location": "https://elsewhere.example/x"})
        else:
            self.send(int(how), {"error": "stub failure %s" % how})

    def body_json(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        self._raw = raw
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return None

    def handle_any(self):
        u = urlparse(self.path)
        q = parse_qs(u.query)
        p = u.path
        st = load_state()
        req = self.body_json() if self.command in ("POST", "PUT") else {}
        how = st.get("fail", {}).get(p)
        if how:
            return self.misbehave(how, q)
        if st.get("delay_ms"):
            time.sleep(st["delay_ms"] / 1000.0)
        models = st.get("models", [])
        # --- the HTTP client's test paths
        if p == "/ok":
            return self.send(200, "hello", "text/plain", {"ETag": '"v1"'})
        if p.startswith("/status/"):
            return self.misbehave(p.split("/")[2], q)
        if p in ("/hang", "/truncated", "/big", "/bigchunked", "/drip"):
            return self.misbehave(p[1:], q)
        if p == "/flaky":
            key = q.get("key", [""])[0]
            fail = int(q.get("fail", ["1"])[0])
            with LOCK:
                FLAKY[key] = FLAKY.get(key, 0) + 1
                k = FLAKY[key]
            if k <= fail:
                return self.send(503, "busy", "text/plain")
            return self.send(200, "ok after %d" % k, "text/plain")
        if p == "/echo":
            return self.send(200, {
                "method": self.command, "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": getattr(self, "_raw", b"").decode("latin-1")})
        # --- Ollama
        if p == "/api/version":
            return self.send(200, {"version": st.get("version", "0.5.7")})
        if p == "/api/tags":
            return self.send(200, {"models": [{
                "name": m["name"], "model": m["name"],
                "modified_at": "2026-11-01T10:00:00Z",
                "size": m.get("size", 4000000000),
                "digest": m["digest"], "details": details(m)}
                for m in models]})
        if p == "/api/show":
            if req is None:
                return self.send(400, {"error": "bad json"})
            name = req.get("model") or req.get("name")
            m = st.get("_by_name", {}).get(name)
            if m is not None:
                return self.send(200, {
                    "modelfile": "FROM %s" % name, "parameters": "",
                    "template": "{{ .Prompt }}", "details": details(m),
                    "model_info": {"general.architecture":
                                   m.get("family", "llama")},
                    "capabilities": m.get("capabilities", ["completion"]),
                    "modified_at": "2026-11-01T10:00:00Z"})
            return self.send(404, {"error": "model '%s' not found" % name})
        if p == "/api/ps":
            return self.send(200, {"models": [{
                "name": m["name"], "model": m["name"],
                "size": m.get("size", 4000000000), "digest": m["digest"],
                "details": details(m),
                "expires_at": "2026-11-01T10:05:00Z",
                "size_vram": m.get("size_vram", 0)}
                for m in models if m.get("loaded")]})
        # --- OpenAI-compatible
        if p == "/v1/models":
            return self.send(200, {"object": "list", "data": [{
                "id": st.get("alias") or m["name"], "object": "model",
                "created": 1730000000, "owned_by": "library"}
                for m in models]})
        if p in ("/v1/chat/completions", "/v1/completions",
                 "/api/chat", "/api/generate"):
            return self.generate(p, req, st, models)
        if p in ("/v1/embeddings", "/api/embed"):
            return self.embed(p, req, st, models)
        # --- llama.cpp
        if p == "/health":
            return self.send(200, {"status": "ok"})
        if p == "/props":
            return self.send(200, {
                "default_generation_settings": {"n_ctx": 4096,
                                                "temperature": 0.8},
                "total_slots": 1,
                "model_path": st.get("model_path", "/models/model.gguf"),
                "chat_template": "", "build_info": "b4000-stub"})
        return self.send(404, {"error": "no such path %s" % p})

    def known(self, name, models):
        if not models or not load_state().get("strict_models"):
            return True
        for m in models:
            if name in (m["name"], m["name"].split(":")[0]):
                return True
        return False

    def generate(self, p, req, st, models):
        ollama = p.startswith("/api/")
        if req is None or not isinstance(req, dict):
            return self.send(400, {"error": "bad json"} if ollama else
                             {"error": {"message": "bad json"}})
        model = req.get("model", "")
        if not self.known(model, models):
            msg = "model '%s' not found" % model
            return self.send(404, {"error": msg} if ollama else
                             {"error": {"message": msg,
                                        "type": "invalid_request_error"}})
        if "messages" in req:
            if not isinstance(req["messages"], list):
                return self.send(400, {"error": "bad messages"})
            last = ""
            words = 0
            for msg in req["messages"]:
                words += len(str(msg.get("content", "")).split())
                if msg.get("role") == "user":
                    last = msg.get("content", "")
        else:
            last = str(req.get("prompt", ""))
            words = len(last.split())
        ans = st.get("answers", {}).get(last, st.get("default_answer",
                                                     "I don't know."))
        toks = ans.split(" ")
        nin, nout = words, len(toks)
        stream = req.get("stream", ollama)
        ms = st.get("chunk_ms", 0)
        if not stream:
            if p == "/v1/chat/completions":
                body = {"id": "chatcmpl-1", "object": "chat.completion",
                        "created": 1730000000, "model": model,
                        "system_fingerprint": "fp_stub",
                        "choices": [{"index": 0, "message": {
                            "role": "assistant", "content": ans},
                            "logprobs": None, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": nin,
                                  "completion_tokens": nout,
                                  "total_tokens": nin + nout}}
            elif p == "/v1/completions":
                body = {"id": "cmpl-1", "object": "text_completion",
                        "created": 1730000000, "model": model,
                        "choices": [{"index": 0, "text": ans,
                                     "logprobs": None,
                                     "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": nin,
                                  "completion_tokens": nout,
                                  "total_tokens": nin + nout}}
            else:
                body = {"model": model,
                        "created_at": "2026-11-24T10:00:00Z",
                        "done": True, "done_reason": "stop",
                        "total_duration": 1000, "load_duration": 10,
                        "prompt_eval_count": nin, "eval_count": nout}
                if p == "/api/chat":
                    body["message"] = {"role": "assistant", "content": ans}
                else:
                    body["response"] = ans
            return self.send(200, body)
        # a stream: one word a chunk
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson" if ollama
                         else "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        sent = [0]

        def out(b):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(b), b))
            self.wfile.flush()
            sent[0] += 1
            if sent[0] == 1 and st.get("gate"):
                end = time.monotonic() + 60
                while not os.path.exists(st["gate"]) and time.monotonic() < end:
                    time.sleep(0.01)
            if ms:
                time.sleep(ms / 1000.0)
        try:
            for i, t in enumerate(toks):
                t = t if i == 0 else " " + t
                if ollama:
                    o = {"model": model,
                         "created_at": "2026-11-24T10:00:00Z", "done": False}
                    if p == "/api/chat":
                        o["message"] = {"role": "assistant", "content": t}
                    else:
                        o["response"] = t
                    out(json.dumps(o).encode() + b"\n")
                else:
                    if p == "/v1/chat/completions":
                        ch = {"index": 0, "delta": {"content": t},
                              "finish_reason": None}
                        obj = "chat.completion.chunk"
                    else:
                        ch = {"index": 0, "text": t, "finish_reason": None}
                        obj = "text_completion"
                    o = {"id": "chatcmpl-1", "object": obj,
                         "created": 1730000000, "model": model,
                         "choices": [ch]}
                    out(b"data: " + json.dumps(o).encode() + b"\n\n")
            if ollama:
                o = {"model": model, "created_at": "2026-11-24T10:00:00Z",
                     "done": True, "done_reason": "stop",
                     "total_duration": 1000, "prompt_eval_count": nin,
                     "eval_count": nout}
                if p == "/api/chat":
                    o["message"] = {"role": "assistant", "content": ""}
                else:
                    o["response"] = ""
                out(json.dumps(o).encode() + b"\n")
            else:
                fin = {"id": "chatcmpl-1",
                       "object": "chat.completion.chunk",
                       "created": 1730000000, "model": model,
                       "choices": [{"index": 0, "delta": {},
                                    "finish_reason": "stop"}]}
                out(b"data: " + json.dumps(fin).encode() + b"\n\n")
                so = req.get("stream_options") or {}
                if so.get("include_usage"):
                    u = {"id": "chatcmpl-1",
                         "object": "chat.completion.chunk",
                         "created": 1730000000, "model": model,
                         "choices": [],
                         "usage": {"prompt_tokens": nin,
                                   "completion_tokens": nout,
                                   "total_tokens": nin + nout}}
                    out(b"data: " + json.dumps(u).encode() + b"\n\n")
                out(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def embed(self, p, req, st, models):
        ollama = p.startswith("/api/")
        if req is None or not isinstance(req, dict):
            return self.send(400, {"error": "bad json"})
        model = req.get("model", "")
        if not self.known(model, models):
            msg = "model '%s' not found" % model
            return self.send(404, {"error": msg} if ollama else
                             {"error": {"message": msg}})
        inp = req.get("input", "")
        items = inp if isinstance(inp, list) else [inp]
        nin = sum(len(str(x).split()) for x in items)
        vecs = [[0.1, 0.2, 0.3] for _ in items]
        if ollama:
            return self.send(200, {"model": model, "embeddings": vecs,
                                   "prompt_eval_count": nin})
        return self.send(200, {"object": "list", "model": model,
                               "data": [{"object": "embedding", "index": i,
                                         "embedding": v}
                                        for i, v in enumerate(vecs)],
                               "usage": {"prompt_tokens": nin,
                                         "total_tokens": nin}})

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = handle_any


class Server(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--state")
    ap.add_argument("--port-file")
    a = ap.parse_args()
    STATE["path"] = a.state
    srv = Server(("127.0.0.1", 0), Handler)
    port = srv.server_address[1]
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        import os
        os.rename(a.port_file + ".tmp", a.port_file)
    sys.stdout.write("%d\n" % port)
    sys.stdout.flush()
    srv.serve_forever()


if __name__ == "__main__":
    main()
