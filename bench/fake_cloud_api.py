#!/usr/bin/env python3
"""A local stand-in for the WhatsApp Cloud API (graph.facebook.com) for scripts/bench-whatsapp.

Python 3.11 standard library only. Answers what src/chatbot/cloud_api.rs calls:

  POST /{version}/{phone_number_id}/messages  -> {"messaging_product": "whatsapp",
                                                  "contacts": [...], "messages": [{"id": "wamid..."}]}
  POST /{version}/{phone_number_id}/media     -> {"id": "media-N"}

and records the time (time.time(), the machine's clock, so another process can compare) and
kind of each request. Each answer waits `latency` ms first (the time the real API takes),
in its own thread, so concurrent calls overlap as they would against Meta.

Control endpoints for the benchmark script (not part of the Cloud API):

  GET  /_stats             -> {"messages": n, "media": m, "latency_ms": x, "first": t, "last": t,
                               "templates": k, "texts": j, "others": o}
  GET  /_times             -> {"messages": [[t, kind], ...]}  (receive time and type of every
                              message, in order: "template", "text", or "other" such as a menu)
  POST /_reset             -> clears the record; body {"latency_ms": x} also sets the latency

  python3 bench/fake_cloud_api.py --port 8097 --latency-ms 5
"""

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Record:
    def __init__(self, latency_ms: float):
        self.lock = threading.Lock()
        self.latency_ms = latency_ms
        self.reset()

    def reset(self):
        self.times = []
        self.events = []
        self.kinds = {"template": 0, "text": 0, "other": 0}
        self.media = 0
        self.seq = 0


RECORD = Record(0.0)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as reqwest expects
    # http.server writes the headers and the body in two writes: without TCP_NODELAY, Nagle's
    # algorithm holds the body back until the client's delayed ACK (40 ms on Linux), which
    # would make every call take 40 ms more than the latency asked for.
    disable_nagle_algorithm = True
    server_version = "FakeCloudAPI/1"

    def log_message(self, *args):  # quiet
        pass

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _json(self, status: int, value) -> None:
        raw = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self):
        if self.path == "/_stats":
            with RECORD.lock:
                t = RECORD.times
                value = {
                    "messages": len(t),
                    "media": RECORD.media,
                    "latency_ms": RECORD.latency_ms,
                    "first": t[0] if t else None,
                    "last": t[-1] if t else None,
                    "templates": RECORD.kinds["template"],
                    "texts": RECORD.kinds["text"],
                    "others": RECORD.kinds["other"],
                }
            return self._json(200, value)
        if self.path == "/_times":
            with RECORD.lock:
                events = list(RECORD.events)
            return self._json(200, {"messages": events})
        return self._json(404, {"error": {"message": "no such path", "code": 100}})

    def do_POST(self):
        body = self._body()
        parts = self.path.strip("/").split("/")
        if self.path == "/_reset":
            options = json.loads(body or b"{}")
            with RECORD.lock:
                RECORD.reset()
                if "latency_ms" in options:
                    RECORD.latency_ms = float(options["latency_ms"])
            return self._json(200, {"ok": True})
        if len(parts) == 3 and parts[2] in ("messages", "media"):
            if not self.headers.get("Authorization", "").startswith("Bearer "):
                return self._json(401, {"error": {"message": "no token", "type": "OAuthException", "code": 190}})
            latency = RECORD.latency_ms
            if latency > 0:
                time.sleep(latency / 1000.0)
            if parts[2] == "media":
                with RECORD.lock:
                    RECORD.media += 1
                    n = RECORD.media
                return self._json(200, {"id": f"media-{n}"})
            try:
                message = json.loads(body)
            except ValueError:
                return self._json(400, {"error": {"message": "bad json", "code": 100}})
            kind = message.get("type")
            to = message.get("to") or message.get("recipient") or ""
            kind = kind if kind in ("template", "text") else "other"
            with RECORD.lock:
                now = time.time()
                RECORD.times.append(now)
                RECORD.events.append((now, kind))
                RECORD.kinds[kind] += 1
                RECORD.seq += 1
                n = RECORD.seq
            return self._json(200, {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": f"wamid.fake.{parts[1]}.{n}.{int(time.time() * 1000)}"}],
            })
        return self._json(404, {"error": {"message": "no such path", "code": 100}})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8097)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    RECORD.latency_ms = args.latency_ms
    server = Server((args.host, args.port), Handler)
    print(f"fake Cloud API on http://{args.host}:{args.port} (latency {args.latency_ms} ms)", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
