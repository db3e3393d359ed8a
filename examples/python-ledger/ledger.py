#!/usr/bin/env python3
"""A tiny payments ledger that knows nothing of idempotency: run it behind
`idem proxy` and a retried POST never charges twice.

    python3 ledger.py --port 9000 --ledger ledger.jsonl

Routes:
  POST /charges    {"customer": "c1", "amount": 500} -> 201 {"charge": "ch_1", ...}
                   Every call that charges appends one line to the ledger file
                   (flushed and fsynced before the answer): the side effect.
                   x-ledger-fail: 500      answer 500 without charging
                   x-ledger-sleep-ms: N    charge, then wait N ms before answering
                   (headers, which the proxy leaves out of the fingerprint, so a
                   retry without them is the same request)
  POST /reconcile  the same body: if this idempotency key was charged, answer
                   that charge (200); else charge now. The proxy sends a
                   request here when an earlier try may have charged
                   (`--reconcile-path /reconcile`).
  GET  /charges    every charge
  GET  /stats      {"calls": {key: n}, "charges": n}: calls received per key
  GET  /health

Fencing: the proxy sends its fencing token in `idem-fencing-token`; the ledger
remembers the highest token per key and refuses (409) a charge under a lower
one, so an owner that lost its key cannot charge after the next one did.
Standard library only.
"""

import argparse
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

LOCK = threading.Lock()
STATE = {"charges": [], "highest_token": {}, "calls": {}}


def load(path):
    if not os.path.exists(path):
        return
    with open(path) as f:
        for line in f:
            if line.strip():
                c = json.loads(line)
                STATE["charges"].append(c)
                key = c.get("key")
                if key and c.get("token") is not None:
                    STATE["highest_token"][key] = max(
                        STATE["highest_token"].get(key, 0), c["token"]
                    )


class Ledger(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    ledger_path = "ledger.jsonl"

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, doc):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_json(self):
        n = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return None

    def do_GET(self):
        path = urlsplit(self.path).path
        with LOCK:
            if path == "/charges":
                return self.answer(200, {"charges": STATE["charges"]})
            if path == "/stats":
                return self.answer(
                    200, {"calls": STATE["calls"], "charges": len(STATE["charges"])}
                )
        if path == "/health":
            return self.answer(200, {"ok": True})
        return self.answer(404, {"error": "no such route"})

    def do_POST(self):
        url = urlsplit(self.path)
        doc = self.read_json()
        key = self.headers.get("idempotency-key", "")
        token_header = self.headers.get("idem-fencing-token")
        token = int(token_header) if token_header and token_header.isdigit() else None
        with LOCK:
            STATE["calls"][key] = STATE["calls"].get(key, 0) + 1
        if url.path not in ("/charges", "/reconcile"):
            return self.answer(404, {"error": "no such route"})
        if doc is None or not isinstance(doc.get("amount"), int) or doc["amount"] <= 0:
            return self.answer(400, {"error": "amount must be a positive integer"})
        if self.headers.get("x-ledger-fail") == "500":
            return self.answer(500, {"error": "the ledger failed before charging"})
        with LOCK:
            if url.path == "/reconcile":
                earlier = [c for c in STATE["charges"] if key and c["key"] == key]
                if earlier:
                    return self.answer(200, earlier[-1])
            if token is not None and key:
                if token < STATE["highest_token"].get(key, 0):
                    return self.answer(409, {"error": "stale fencing token", "token": token})
                STATE["highest_token"][key] = token
            charge = {
                "charge": "ch_%d" % (len(STATE["charges"]) + 1),
                "key": key,
                "token": token,
                "customer": doc.get("customer"),
                "amount": doc["amount"],
            }
            with open(self.ledger_path, "a") as f:
                f.write(json.dumps(charge) + "\n")
                f.flush()
                os.fsync(f.fileno())
            STATE["charges"].append(charge)
        sleep_ms = self.headers.get("x-ledger-sleep-ms", "0")
        if sleep_ms.isdigit():
            time.sleep(int(sleep_ms) / 1000)
        return self.answer(201, charge)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=9000)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--ledger", default="ledger.jsonl")
    args = p.parse_args()
    Ledger.ledger_path = args.ledger
    load(args.ledger)
    server = ThreadingHTTPServer((args.host, args.port), Ledger)
    server.daemon_threads = True
    print("ledger on http://%s:%d, writing %s" % (args.host, args.port, args.ledger), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
