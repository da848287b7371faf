#!/usr/bin/env python3
"""A fault-injecting HTTP/1.1 proxy for registry tests (standard library only).

Sits in front of a registry (docker-registry on 127.0.0.1) and, for a seeded
pseudo-random share of requests (--rate), injects the current mode's fault:

  none         pass everything through
  5xx          503 without asking upstream, or 500/502 after upstream did the work
  429          429 Too Many Requests with Retry-After: 1, without asking upstream
  reset        TCP reset before forwarding, or after forwarding, mid-response
  stall        forward, then send half the response (or nothing) and go silent
  trunc-full   a body cut short under its full Content-Length, then close
               (the upload body when the request has one, else the response's)
  trunc-short  a body cut short with a Content-Length that matches the cut
  flip         one byte of the body flipped (upload body, else response body)

Control, answered by the proxy itself:
  POST /__fault?mode=MODE&seed=N   switch mode; restart the random sequence
  GET  /__fault/stats              {"requests": n, "faults": n} since the switch

Fault choices are drawn from one seeded generator in the order requests
arrive, so a serial client sees the same faults on every run. Each client
connection carries one request (the proxy answers with Connection: close).
Prints "listening on PORT" once ready (--port 0 picks a free port).
"""
import argparse
import json
import random
import socket
import socketserver
import struct
import sys
import threading
import time
import urllib.parse

MODES = ("none", "5xx", "429", "reset", "stall", "trunc-full", "trunc-short", "flip")


class State:
    def __init__(self, mode, seed, rate, stall):
        self.lock = threading.Lock()
        self.rate = rate
        self.stall = stall
        self.set(mode, seed)

    def set(self, mode, seed):
        with self.lock:
            self.mode = mode
            self.rng = random.Random(seed)
            self.requests = 0
            self.faults = 0

    def draw(self):
        """(mode, fault?, variant in [0,1), position in [0,1)) for the next request."""
        with self.lock:
            self.requests += 1
            fault = self.mode != "none" and self.rng.random() < self.rate
            if fault:
                self.faults += 1
            return self.mode, fault, self.rng.random(), self.rng.random()


STATE = None
LOG = None
LOG_LOCK = threading.Lock()


def log(line):
    if LOG:
        with LOG_LOCK:
            LOG.write(line + "\n")
            LOG.flush()


def read_head(f):
    """Start line and headers [(name, value)] from a file object; None at EOF."""
    line = f.readline(65536)
    if not line:
        return None
    start = line.decode("latin-1").rstrip("\r\n")
    headers = []
    while True:
        h = f.readline(65536)
        if not h or h in (b"\r\n", b"\n"):
            break
        name, _, value = h.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    return start, headers


def header(headers, name):
    for n, v in headers:
        if n.lower() == name:
            return v
    return None


def read_body(f, headers, until_eof):
    if (header(headers, "transfer-encoding") or "").lower() == "chunked":
        out = b""
        while True:
            size = int(f.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while f.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return out
            out += f.read(size)
            f.readline()
    cl = header(headers, "content-length")
    if cl is not None:
        return f.read(int(cl))
    return f.read() if until_eof else b""


def without(headers, *names):
    return [(n, v) for n, v in headers if n.lower() not in names]


def serialize(start, headers, body_len):
    hs = without(headers, "content-length", "transfer-encoding", "connection")
    hs.append(("Content-Length", str(body_len)))
    hs.append(("Connection", "close"))
    return (start + "\r\n" + "".join("%s: %s\r\n" % h for h in hs) + "\r\n").encode("latin-1")


def reset(sock):
    """Close with RST instead of FIN: the peer sees 'connection reset'."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


def cut(length, pos):
    """A cut point strictly inside a body of `length` bytes."""
    return 0 if length <= 1 else 1 + int(pos * (length - 1)) % (length - 1)


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        client = self.request
        rf = client.makefile("rb")
        head = read_head(rf)
        if head is None:
            return
        start, headers = head
        parts = start.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            return  # not HTTP (a TLS ClientHello, say): close, as a plain HTTP server would not answer it usefully
        method, target = parts[:2]
        body = read_body(rf, headers, until_eof=False)
        if target.startswith("/__fault"):
            return self.control(client, method, target)
        mode, fault, variant, pos = STATE.draw()
        applied = self.serve(client, method, start, headers, body, mode if fault else "none", variant, pos)
        log("%s %s %s" % (applied, method, target))

    def control(self, client, method, target):
        url = urllib.parse.urlparse(target)
        if url.path == "/__fault/stats":
            with STATE.lock:
                body = json.dumps({"mode": STATE.mode, "requests": STATE.requests, "faults": STATE.faults}).encode()
        else:
            q = urllib.parse.parse_qs(url.query)
            mode = q.get("mode", ["none"])[0]
            if mode not in MODES:
                client.sendall(serialize("HTTP/1.1 400 Bad Request", [], 0))
                return
            STATE.set(mode, int(q.get("seed", ["1"])[0]))
            log("--- mode %s" % mode)
            body = b"ok\n"
        client.sendall(serialize("HTTP/1.1 200 OK", [("Content-Type", "text/plain")], len(body)) + body)

    def forward(self, start, headers, body, send_len=None, declared_len=None):
        """Sends the request upstream; returns (status line, headers, body) or None when cut."""
        up = socket.create_connection(UPSTREAM, timeout=60)
        try:
            send = body if send_len is None else body[:send_len]
            decl = len(send) if declared_len is None else declared_len
            hs = without(headers, "content-length", "transfer-encoding", "connection", "expect")
            if body or header(headers, "content-length") is not None:
                hs.append(("Content-Length", str(decl)))
            hs.append(("Connection", "close"))
            up.sendall((start + "\r\n" + "".join("%s: %s\r\n" % h for h in hs) + "\r\n").encode("latin-1") + send)
            if decl > len(send):
                return None  # the registry waits for bytes that never come; drop it
            uf = up.makefile("rb")
            rstart, rheaders = read_head(uf)
            status = int(rstart.split(" ")[1])
            no_body = start.startswith("HEAD ") or status in (204, 304) or status < 200
            rbody = b"" if no_body else read_body(uf, rheaders, until_eof=True)
            return rstart, rheaders, rbody, no_body
        finally:
            up.close()

    def reply(self, client, resp, body=None, declared=None):
        rstart, rheaders, rbody, no_body = resp
        body = rbody if body is None else body
        if no_body:
            # HEAD keeps the registry's Content-Length (the size of what a GET would send).
            hs = without(rheaders, "connection") + [("Connection", "close")]
            client.sendall((rstart + "\r\n" + "".join("%s: %s\r\n" % h for h in hs) + "\r\n").encode("latin-1"))
            return
        client.sendall(serialize(rstart, rheaders, len(body) if declared is None else declared) + body)

    def serve(self, client, method, start, headers, body, mode, variant, pos):
        if mode == "429":
            msg = b'{"errors":[{"code":"TOOMANYREQUESTS","message":"fault proxy: slow down"}]}'
            client.sendall(serialize("HTTP/1.1 429 Too Many Requests",
                                     [("Retry-After", "1"), ("Content-Type", "application/json")], len(msg)) + msg)
            return "429"
        if mode == "5xx":
            if variant < 0.5:
                status = "HTTP/1.1 503 Service Unavailable"
            else:
                self.forward(start, headers, body)  # the registry did the work; the answer is lost
                status = "HTTP/1.1 500 Internal Server Error" if variant < 0.75 else "HTTP/1.1 502 Bad Gateway"
            msg = b"fault proxy: " + status.encode() + b"\n"
            client.sendall(serialize(status, [("Content-Type", "text/plain")], len(msg)) + msg)
            return status.split(" ")[1]
        if mode == "reset" and variant < 0.5:
            reset(client)
            return "reset-before"
        if mode in ("trunc-full", "trunc-short", "flip") and body:
            return self.upload_fault(client, mode, start, headers, body, pos)
        resp = self.forward(start, headers, body)
        rbody = resp[2]
        if mode == "reset":
            if rbody and not resp[3]:
                client.sendall(serialize(resp[0], resp[1], len(rbody)) + rbody[:cut(len(rbody), pos)])
            reset(client)
            return "reset-after"
        if mode == "stall":
            if rbody and not resp[3]:
                client.sendall(serialize(resp[0], resp[1], len(rbody)) + rbody[:cut(len(rbody), pos)])
            time.sleep(STATE.stall)
            client.close()
            return "stall"
        if mode == "trunc-full" and rbody and not resp[3]:
            client.sendall(serialize(resp[0], resp[1], len(rbody)) + rbody[:cut(len(rbody), pos)])
            client.close()
            return "trunc-full-response"
        if mode == "trunc-short" and rbody and not resp[3]:
            n = cut(len(rbody), pos)
            self.reply(client, resp, rbody[:n])
            return "trunc-short-response"
        if mode == "flip" and rbody and not resp[3]:
            i = int(pos * len(rbody)) % len(rbody)
            flipped = rbody[:i] + bytes([rbody[i] ^ 0x01]) + rbody[i + 1:]
            self.reply(client, resp, flipped)
            return "flip-response"
        self.reply(client, resp)
        return "pass" if mode == "none" else "pass(" + mode + ")"

    def upload_fault(self, client, mode, start, headers, body, pos):
        n = cut(len(body), pos)
        if mode == "trunc-full":
            self.forward(start, headers, body, send_len=n, declared_len=len(body))
            client.close()  # no answer: the client sees an empty reply
            return "trunc-full-request"
        if mode == "trunc-short":
            resp = self.forward(start, headers, body, send_len=n)
            self.reply(client, resp)
            return "trunc-short-request"
        i = int(pos * len(body)) % len(body)
        resp = self.forward(start, headers, body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1:])
        self.reply(client, resp)
        return "flip-request"


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        log("handler error: %s" % (sys.exc_info()[1],))


def main():
    global STATE, LOG, UPSTREAM
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--upstream", required=True, help="HOST:PORT of the registry")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--mode", default="none", choices=MODES)
    ap.add_argument("--rate", type=float, default=1 / 3, help="share of requests that get the fault")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--stall", type=float, default=5.0, help="seconds a stalled response stays silent")
    ap.add_argument("--log", help="one line per request: fault applied, method, path")
    a = ap.parse_args()
    host, _, port = a.upstream.rpartition(":")
    UPSTREAM = (host, int(port))
    STATE = State(a.mode, a.seed, a.rate, a.stall)
    if a.log:
        LOG = open(a.log, "a")
    srv = Server(("127.0.0.1", a.port), Handler)
    print("listening on %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
