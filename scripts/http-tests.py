#!/usr/bin/env python3
"""The HTTP/JSON listener, judged by real clients: curl, Python's http.client
and raw sockets (pipelining, slow bodies, hostile input), beside RESP clients
on the same server. Prints one line per check, "ok <n> - <what>" or
"not ok <n> - <what>" (scripts/run-tests.sh counts them) and exits non-zero
if any check failed. Every wait is bounded; no check depends on speed beyond
wide margins."""

import http.client
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import tap  # noqa: E402  (scripts/tap.py: one line per check)
from tap import ok, not_ok, check_equal, check_true, free_port  # noqa: E402

SERVER = os.environ.get("LOCKD_SERVER", "build/lockd-server")
class Server:
    """build/lockd-server on free ports in a directory of its own."""

    def __init__(self, extra=(), directory=None, fsize=0):
        self.dir = directory or tempfile.mkdtemp(prefix="lockd-http-")
        self.own_dir = directory is None
        self.start(extra, fsize)

    def start(self, extra=(), fsize=0):
        self.port = free_port()
        self.http_port = free_port()
        args = [SERVER, "--port", str(self.port), "--http-port", str(self.http_port),
                "--bind", "127.0.0.1", "--dir", self.dir, "--save", ""] + list(extra)

        def limits():
            if fsize:
                resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

        self.log = open(os.path.join(self.dir, "server.log"), "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     preexec_fn=limits)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.http_port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("server did not start")

    def kill(self):
        self.proc.kill()
        self.proc.wait(10)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


class Resp:
    """A minimal RESP2 client."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, *args):
        out = f"*{len(args)}\r\n".encode()
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t in (b"+",):
            return rest.decode()
        if t == b"-":
            return Exception(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            ln = int(rest)
            if ln < 0:
                return None
            while len(self.buf) < ln + 2:
                self.buf += self.sock.recv(65536)
            data, self.buf = self.buf[:ln], self.buf[ln + 2:]
            return data.decode(errors="replace")
        if t == b"*":
            ln = int(rest)
            return None if ln < 0 else [self.read() for _ in range(ln)]
        raise ValueError(line)

    def cmd(self, *args):
        self.send(*args)
        return self.read()

    def close(self):
        self.sock.close()


def curl(url, *args, stdin=None):
    """(status, headers text, body) of one curl call."""
    p = subprocess.run(["curl", "-s", "-i", "--max-time", "10", *args, url],
                       input=stdin, capture_output=True, timeout=20)
    raw = p.stdout.decode(errors="replace")
    # Skip interim responses (100 Continue).
    while raw.startswith("HTTP/1.1 100"):
        raw = raw.split("\r\n\r\n", 1)[1]
    head, _, body = raw.partition("\r\n\r\n")
    try:
        status = int(head.split(" ")[1])
    except (IndexError, ValueError):
        status = 0
    return status, head, body


def post(srv, path, obj, *args):
    body = obj if isinstance(obj, str) else json.dumps(obj)
    return curl(f"http://127.0.0.1:{srv.http_port}{path}", "-X", "POST",
                "-H", "Content-Type: application/json", "--data-binary", "@-", *args,
                stdin=body.encode())


def get(srv, path, *args):
    return curl(f"http://127.0.0.1:{srv.http_port}{path}", *args)


def jbody(body):
    try:
        return json.loads(body)
    except ValueError:
        return None


def raw_http(port, data, timeout=5.0):
    """Sends bytes, reads until the server closes or `timeout`; (bytes, closed)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
    except OSError:
        pass
    out = b""
    closed = False
    deadline = time.time() + timeout
    while time.time() < deadline:
        s.settimeout(max(0.01, deadline - time.time()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except OSError:
            closed = True
            break
        if not chunk:
            closed = True
            break
        out += chunk
    s.close()
    return out, closed


def read_responses(sock, count, timeout=10.0):
    """Reads `count` HTTP responses (with Content-Length) from a socket."""
    buf = b""
    out = []
    deadline = time.time() + timeout
    while len(out) < count and time.time() < deadline:
        while b"\r\n\r\n" in buf:
            head, rest = buf.split(b"\r\n\r\n", 1)
            length = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v)
            if len(rest) < length:
                break
            out.append((int(head.split(b" ")[1]), head.decode(), rest[:length].decode()))
            buf = rest[length:]
            if len(out) == count:
                return out
        sock.settimeout(max(0.01, deadline - time.time()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        buf += chunk
    return out


def wait_for(cond, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def metrics(srv):
    status, _, body = get(srv, "/metrics")
    values = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


# ---------------------------------------------------------------------------


def test_endpoints(srv):
    s, h, b = post(srv, "/v1/acquire", {"key": "seat-1", "holder": "alice", "ttl_ms": 30000})
    j = jbody(b) or {}
    check_equal("acquire of a free key: 200", s, 200)
    check_true("acquire: key, holder, token, expires_at_unix_ms",
               j.get("key") == "seat-1" and j.get("holder") == "alice" and
               isinstance(j.get("token"), int) and j["token"] > 0 and
               abs(j.get("expires_at_unix_ms", 0) - (time.time() * 1000 + 30000)) < 5000, b)
    token = j.get("token", 0)
    s, _, b = post(srv, "/v1/acquire", {"key": "seat-1", "holder": "bob", "ttl_ms": 1000})
    check_equal("acquire of a held key without wait_ms: 409", s, 409)
    check_true("409 body is {\"error\": ...}", "error" in (jbody(b) or {}), b)
    s, _, b = post(srv, "/v1/acquire", {"key": "seat-1", "holder": "bob", "ttl_ms": 1000,
                                        "wait_ms": 0})
    check_equal("acquire with wait_ms 0 of a held key: 409", s, 409)
    s, _, b = post(srv, "/v1/acquire", {"key": "seat-1", "holder": "alice", "ttl_ms": 30000})
    check_equal("re-acquire by the holder keeps the token", (s, (jbody(b) or {}).get("token")),
                (200, token))
    s, _, b = get(srv, "/v1/fence?key=seat-1")
    check_equal("fence of a held key", (s, jbody(b)), (200, {"key": "seat-1", "held": True,
                                                       "token": token}))
    s, _, b = get(srv, "/v1/fence?key=nobody")
    check_equal("fence of a free key", (s, jbody(b)), (200, {"key": "nobody", "held": False,
                                                       "token": None}))
    s, _, b = get(srv, "/v1/fence")
    check_equal("fence without key: 400", s, 400)
    s, _, b = get(srv, "/v1/locks/seat-1")
    j = jbody(b) or {}
    check_true("locks/K: holder, token, ttl_ms, waiters",
               s == 200 and j.get("holder") == "alice" and j.get("token") == token and
               0 < j.get("ttl_ms", 0) <= 30000 and j.get("waiters") == 0, f"{s} {b}")
    s, _, b = get(srv, "/v1/locks/free-key")
    check_equal("locks/K of a free key: 404", s, 404)
    before = time.time() * 1000
    s, _, b = post(srv, "/v1/renew", {"key": "seat-1", "holder": "alice", "token": token,
                                      "ttl_ms": 60000})
    j = jbody(b) or {}
    check_true("renew: 200 with the new expires_at_unix_ms",
               s == 200 and j.get("token") == token and
               j.get("expires_at_unix_ms", 0) >= before + 60000 - 2000, f"{s} {b}")
    s, _, b = post(srv, "/v1/renew", {"key": "seat-1", "holder": "alice", "token": token + 1,
                                      "ttl_ms": 60000})
    check_equal("renew with a wrong token: 409", s, 409)
    s, _, b = post(srv, "/v1/release", {"key": "seat-1", "holder": "bob", "token": token})
    check_equal("release by another holder: 409", s, 409)
    s, _, b = post(srv, "/v1/release", {"key": "seat-1", "holder": "alice", "token": token})
    check_equal("release: 200", s, 200)
    s, _, b = post(srv, "/v1/release", {"key": "seat-1", "holder": "alice", "token": token})
    check_equal("release again: 409", s, 409)
    s, _, b = post(srv, "/v1/acquire", {"key": "seat-1", "holder": "carol", "ttl_ms": 1000})
    check_true("a key freed and taken again gets a larger token",
               s == 200 and (jbody(b) or {}).get("token", 0) > token, b)
    s, _, b = get(srv, "/v1/locks/a%2Fb%20c")
    check_equal("a percent-encoded key in the path", s, 404)
    post(srv, "/v1/acquire", {"key": "a/b c", "holder": "h", "ttl_ms": 5000})
    s, _, b = get(srv, "/v1/fence?key=a%2Fb+c")
    check_equal("a percent-encoded key in the query", (jbody(b) or {}).get("held"), True)
    s, _, b = post(srv, "/v1/acquire", {"key": "u", "holder": "h\u00e9\u2603", "ttl_ms": 5000})
    s, _, b = get(srv, "/v1/locks/u")
    check_equal("UTF-8 holders come back as sent", (jbody(b) or {}).get("holder"), "h\u00e9\u2603")


def test_errors(srv):
    cases = [
        ("missing key", {"holder": "a", "ttl_ms": 1}, "key"),
        ("missing holder", {"key": "k", "ttl_ms": 1}, "holder"),
        ("missing ttl_ms", {"key": "k", "holder": "a"}, "ttl_ms"),
        ("mistyped key", {"key": 5, "holder": "a", "ttl_ms": 1}, "key"),
        ("mistyped ttl_ms", {"key": "k", "holder": "a", "ttl_ms": "10"}, "ttl_ms"),
        ("fractional ttl_ms", {"key": "k", "holder": "a", "ttl_ms": 1.5}, "ttl_ms"),
        ("zero ttl_ms", {"key": "k", "holder": "a", "ttl_ms": 0}, "ttl_ms"),
        ("negative wait_ms", {"key": "k", "holder": "a", "ttl_ms": 1, "wait_ms": -1}, "wait_ms"),
        ("empty holder", {"key": "k", "holder": "", "ttl_ms": 1}, "holder"),
    ]
    for what, body, field in cases:
        s, _, b = post(srv, "/v1/acquire", body)
        err = (jbody(b) or {}).get("error", "")
        check_true(f"acquire with {what}: 400 naming '{field}'", s == 400 and field in err,
                   f"{s} {b}")
    s, _, b = post(srv, "/v1/renew", {"key": "k", "holder": "a", "ttl_ms": 5})
    check_true("renew without token: 400 naming 'token'",
               s == 400 and "token" in (jbody(b) or {}).get("error", ""), b)
    s, _, b = post(srv, "/v1/acquire", "{not json")
    check_true("bad JSON: 400 with a JSON error", s == 400 and "error" in (jbody(b) or {}), b)
    s, _, b = post(srv, "/v1/acquire", "[1,2]")
    check_equal("a JSON array body: 400", s, 400)
    s, _, b = get(srv, "/v2/nothing")
    check_equal("unknown path: 404", s, 404)
    s, h, b = get(srv, "/v1/acquire")
    check_true("GET on a POST endpoint: 405 with Allow: POST",
               s == 405 and "Allow: POST" in h, h)
    s, h, b = post(srv, "/v1/fence?key=k", {})
    check_true("POST on a GET endpoint: 405 with Allow: GET", s == 405 and "Allow: GET" in h, h)
    big = json.dumps({"key": "k", "holder": "a", "ttl_ms": 1, "pad": "x" * (1024 * 1024 + 10)})
    s, h, b = post(srv, "/v1/acquire", big)
    check_equal("a body over 1 MiB: 413", s, 413)
    s, _, b = post(srv, "/v1/acquire", json.dumps({"key": "k", "holder": "a", "ttl_ms": 1,
                                                   "pad": "x" * 4000}))
    check_equal("a 4 KB body (curl sends Expect: 100-continue) is read", s, 200)
    # Invalid UTF-8 inside a JSON string.
    data = b'{"key":"k\xff\xfe","holder":"a","ttl_ms":1000}'
    req = (b"POST /v1/acquire HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(data)) + data
    out, _ = raw_http(srv.http_port, req, timeout=2)
    check_true("invalid UTF-8 in the JSON body: 400", out.startswith(b"HTTP/1.1 400"), out[:80])
    s, _, b = post(srv, "/v1/acquire", {"key": "k-big", "holder": "a", "ttl_ms": 10 ** 15})
    check_true("ttl_ms beyond the longest lease: 400 with the command's error",
               s == 400 and "expire" in (jbody(b) or {}).get("error", ""), b)


def test_auth():
    srv = Server(["--requirepass", "s3cret"])
    try:
        s, h, b = post(srv, "/v1/acquire", {"key": "k", "holder": "a", "ttl_ms": 1000})
        check_true("requirepass: no Authorization → 401", s == 401 and "error" in (jbody(b) or {}),
                   b)
        s, _, _ = post(srv, "/v1/acquire", {"key": "k", "holder": "a", "ttl_ms": 1000},
                       "-H", "Authorization: Bearer wrong")
        check_equal("requirepass: a wrong bearer → 401", s, 401)
        s, _, _ = post(srv, "/v1/acquire", {"key": "k", "holder": "a", "ttl_ms": 1000},
                       "-H", "Authorization: Bearer s3cret")
        check_equal("requirepass: the right bearer → 200", s, 200)
        s, _, _ = get(srv, "/metrics")
        check_equal("requirepass: /metrics without it → 401", s, 401)
        s, _, _ = get(srv, "/metrics", "-H", "Authorization: Bearer s3cret")
        check_equal("requirepass: /metrics with it → 200", s, 200)
        s, _, _ = get(srv, "/healthz")
        check_equal("requirepass: /healthz answers without it", s, 200)
    finally:
        srv.stop()


def test_keepalive_pipelining(srv):
    conn = http.client.HTTPConnection("127.0.0.1", srv.http_port, timeout=10)
    statuses = []
    for i in range(5):
        conn.request("POST", "/v1/acquire", json.dumps({"key": f"ka-{i}", "holder": "h",
                                                         "ttl_ms": 5000}),
                     {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        statuses.append(r.status)
    check_equal("http.client: five requests on one keep-alive connection", statuses, [200] * 5)
    conn.close()

    s = socket.create_connection(("127.0.0.1", srv.http_port), timeout=10)
    reqs = b""
    for i in range(3):
        body = json.dumps({"key": "pipe", "holder": f"h{i}", "ttl_ms": 5000}).encode()
        reqs += (b"POST /v1/acquire HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" %
                 len(body)) + body
    reqs += b"GET /v1/fence?key=pipe HTTP/1.1\r\nHost: x\r\n\r\n"
    s.sendall(reqs)
    rs = read_responses(s, 4)
    check_equal("pipelined requests answered in order",
                [r[0] for r in rs], [200, 409, 409, 200])
    s.close()

    # Chunked request body, sent slowly, one piece at a time.
    s = socket.create_connection(("127.0.0.1", srv.http_port), timeout=10)
    body = json.dumps({"key": "chunky", "holder": "h", "ttl_ms": 5000}).encode()
    s.sendall(b"POST /v1/acquire HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    for i in range(0, len(body), 7):
        piece = body[i:i + 7]
        s.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        time.sleep(0.01)
    s.sendall(b"0\r\n\r\n")
    rs = read_responses(s, 1)
    check_equal("a chunked body sent slowly", [r[0] for r in rs], [200])
    s.close()

    # A body trickled byte by byte (Content-Length).
    s = socket.create_connection(("127.0.0.1", srv.http_port), timeout=10)
    body = json.dumps({"key": "slow", "holder": "h", "ttl_ms": 5000}).encode()
    s.sendall(b"POST /v1/acquire HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
    for b in body:
        s.sendall(bytes([b]))
        time.sleep(0.002)
    rs = read_responses(s, 1)
    check_equal("a body sent byte by byte", [r[0] for r in rs], [200])
    s.close()

    out, closed = raw_http(srv.http_port,
                           b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check_true("Connection: close: answered with Connection: close, then closed",
               out.startswith(b"HTTP/1.1 200") and b"Connection: close" in out and closed, out)
    out, closed = raw_http(srv.http_port, b"GET /healthz HTTP/1.0\r\n\r\n")
    check_true("HTTP/1.0 without keep-alive: closed after the response",
               out.startswith(b"HTTP/1.1 200") and closed, out)


def test_waits_and_fifo(srv):
    resp = Resp(srv.port)
    holder_token = resp.cmd("LOCK.ACQUIRE", "fifo", "owner", 30000)
    results = {}

    def http_wait(name):
        s, _, b = post(srv, "/v1/acquire", {"key": "fifo", "holder": name, "ttl_ms": 30000,
                                            "wait_ms": 20000})
        results[name] = (s, (jbody(b) or {}).get("token"))

    def waiters():
        info = Resp(srv.port)
        r = info.cmd("LOCK.INFO", "fifo")
        info.close()
        return r[7] if isinstance(r, list) else -1

    threads = []
    resp_waiters = {}
    order = ["h1", "r2", "h3", "r4"]
    for i, name in enumerate(order):
        if name.startswith("h"):
            t = threading.Thread(target=http_wait, args=(name,))
            t.start()
            threads.append(t)
        else:
            c = Resp(srv.port)
            c.send("LOCK.ACQUIRE", "fifo", name, 30000, "WAIT", 20000)
            resp_waiters[name] = c
        if not wait_for(lambda: waiters() == i + 1):
            not_ok("waiters queue up", f"waiters={waiters()} after {name}")
    check_equal("four waiters, HTTP and RESP, queued", waiters(), 4)
    # Release in turn: each release hands the key to the next in line.
    granted = []
    current = ("owner", holder_token)
    for name in order:
        r = Resp(srv.port)
        check_true(f"release by {current[0]}", r.cmd("LOCK.RELEASE", "fifo", current[0],
                                                     current[1]) == 1)
        r.close()
        if name.startswith("h"):
            wait_for(lambda: name in results, 10)
            tok = results.get(name, (0, None))[1]
            check_equal(f"HTTP waiter {name} granted with 200", results.get(name, (0,))[0], 200)
        else:
            tok = resp_waiters[name].read()
        granted.append(name)
        fence = Resp(srv.port)
        check_equal(f"{name} holds the key next (FIFO across HTTP and RESP)",
                    fence.cmd("LOCK.FENCE", "fifo"), tok)
        fence.close()
        current = (name, tok)
    for t in threads:
        t.join(10)
    for c in resp_waiters.values():
        c.close()

    # A waiting HTTP client that disconnects leaves the queue at once.
    resp.cmd("LOCK.ACQUIRE", "gone", "owner", 30000)
    s = socket.create_connection(("127.0.0.1", srv.http_port), timeout=10)
    body = json.dumps({"key": "gone", "holder": "quitter", "ttl_ms": 1000,
                       "wait_ms": 20000}).encode()
    s.sendall(b"POST /v1/acquire HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
              + body)
    info = lambda: (Resp(srv.port).cmd("LOCK.INFO", "gone") or [0] * 8)[7]
    check_true("the HTTP waiter is queued", wait_for(lambda: info() == 1))
    s.close()
    check_true("a disconnected HTTP waiter leaves the queue", wait_for(lambda: info() == 0))

    # A wait that times out answers 409.
    start = time.time()
    s_, _, b = post(srv, "/v1/acquire", {"key": "gone", "holder": "late", "ttl_ms": 1000,
                                         "wait_ms": 200})
    check_true("a wait that times out: 409 after the wait",
               s_ == 409 and time.time() - start >= 0.15, f"{s_} {b}")
    resp.close()


def test_durability():
    d = tempfile.mkdtemp(prefix="lockd-http-dur-")
    srv = None
    try:
        srv = Server(["--appendonly", "yes", "--appendfsync", "always"], directory=d)
        s, _, b = post(srv, "/v1/acquire", {"key": "kept", "holder": "alice", "ttl_ms": 600000})
        token = (jbody(b) or {}).get("token")
        check_equal("under appendfsync always: acquire acknowledged", s, 200)
        logged = b""
        for root, _, files in os.walk(d):
            for f in files:
                if f != "server.log":
                    with open(os.path.join(root, f), "rb") as fh:
                        logged += fh.read()
        check_true("the grant is in the log before its 200 arrives", b"kept" in logged)
        r = Resp(srv.port)
        check_equal("CONFIG GET http-port", r.cmd("CONFIG", "GET", "http-port"),
                    ["http-port", str(srv.http_port)])
        r.close()
        srv.kill()
        srv.log.close()
        srv.start(["--appendonly", "yes", "--appendfsync", "always"])
        ok_loaded = wait_for(lambda: get(srv, "/healthz")[0] == 200, 10)
        check_true("restarted server is healthy", ok_loaded)
        s, _, b = get(srv, "/v1/locks/kept")
        j = jbody(b) or {}
        check_equal("an HTTP grant survives SIGKILL and restart", (s, j.get("holder"), j.get("token")),
                    (200, "alice", token))
    finally:
        if srv is not None:
            srv.stop()
        shutil.rmtree(d, ignore_errors=True)


def test_metrics():
    # A server of its own: leases left by other checks would expire inside
    # the window measured here.
    srv = Server(["--appendonly", "yes", "--appendfsync", "always"])
    try:
        check_metrics(srv)
    finally:
        srv.stop()


def check_metrics(srv):
    p = subprocess.run(["promtool", "check", "metrics"], input=get(srv, "/metrics")[2].encode(),
                       capture_output=True, timeout=30)
    check_true("promtool check metrics passes on /metrics", p.returncode == 0,
               (p.stdout + p.stderr).decode()[:500])
    before = metrics(srv)
    r = Resp(srv.port)
    tokens = [r.cmd("LOCK.ACQUIRE", f"m{i}", "h", 60000) for i in range(5)]
    for i in range(2):
        r.cmd("LOCK.RELEASE", f"m{i}", "h", tokens[i])
    r.cmd("LOCK.RENEW", "m2", "h", tokens[2], 60000)
    post(srv, "/v1/acquire", {"key": "m9", "holder": "h", "ttl_ms": 60000})
    r.cmd("LOCK.ACQUIRE", "m3", "other", 1000, "WAIT", 50)
    r.cmd("LOCK.ACQUIRE", "mexp", "h", 50)
    time.sleep(0.3)
    r.cmd("LOCK.FENCE", "mexp")
    after = metrics(srv)
    d = lambda k: after.get(k, 0) - before.get(k, 0)
    check_equal("grants counter moved by the grants made", d("lockd_lock_grants_total"), 7)
    check_equal("releases counter", d("lockd_lock_releases_total"), 2)
    check_equal("renewals counter", d("lockd_lock_renewals_total"), 1)
    check_equal("wait timeouts counter", d("lockd_lock_wait_timeouts_total"), 1)
    check_equal("expiries counter", d("lockd_lock_expiries_total"), 1)
    check_equal("held gauge", d("lockd_locks_held"), 4)
    check_equal("last token gauge", after.get("lockd_lock_last_token"),
                float(r.cmd("LOCK.FENCE", "m3") and max(tokens) + 2))
    check_equal("per-command calls: lock.acquire (RESP and HTTP)",
                d('lockd_command_calls_total{cmd="lock.acquire"}'), 8)
    check_equal("per-command latency histogram counts the same calls",
                d('lockd_command_duration_seconds_count{cmd="lock.acquire"}'), 8)
    present = all(k in after for k in [
        "lockd_connected_clients", "lockd_memory_used_bytes", "lockd_log_size_bytes",
        "lockd_log_rewrites_total", "lockd_lock_restart_delay_seconds", "lockd_loading",
        "lockd_lock_handoffs_total", "lockd_lock_waiters",
        'lockd_log_fsync_duration_seconds_bucket{le="+Inf"}'])
    check_true("clients, memory, log size, rewrites, lock-delay, loading, fsync histogram",
               present)
    r.close()


def test_health_misconf():
    # Under everysec a log that cannot be written refuses changes: /healthz says 503.
    srv = Server(["--appendonly", "yes", "--appendfsync", "everysec"], fsize=4096)
    try:
        check_equal("healthz while the log works: 200", get(srv, "/healthz")[0], 200)
        r = Resp(srv.port)
        for i in range(200):
            x = r.cmd("LOCK.ACQUIRE", f"fill{i}" + "x" * 100, "h" * 100, 60000)
            if isinstance(x, Exception):
                break
        s, _, b = get(srv, "/healthz")
        check_true("healthz while the log cannot be written: 503", s == 503, f"{s} {b}")
        r.close()
    finally:
        srv.stop()


def test_hostile(srv):
    base_rss = srv.rss_kb()
    # Header flood: more header bytes than the parser allows.
    flood = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-A: " + b"a" * 100 + b"\r\n"
    flood += b"".join(b"X-%d: %s\r\n" % (i, b"b" * 100) for i in range(2000)) + b"\r\n"
    out, closed = raw_http(srv.http_port, flood)
    check_true("header flood: 431 and closed", out.startswith(b"HTTP/1.1 431") and closed,
               out[:80])
    # 10 GB Content-Length: refused before any body is read.
    out, closed = raw_http(srv.http_port,
                           b"POST /v1/acquire HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Length: 10737418240\r\n\r\n{")
    check_true("10 GB Content-Length: 413 and closed", out.startswith(b"HTTP/1.1 413") and closed,
               out[:80])
    # Broken chunking.
    out, closed = raw_http(srv.http_port,
                           b"POST /v1/acquire HTTP/1.1\r\nHost: x\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n")
    check_true("broken chunking: 400 and closed", out.startswith(b"HTTP/1.1 400") and closed,
               out[:80])
    # A chunked body that grows past 1 MiB.
    s = socket.create_connection(("127.0.0.1", srv.http_port), timeout=10)
    s.sendall(b"POST /v1/acquire HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    got = b""
    try:
        for _ in range(40):
            s.sendall(b"10000\r\n" + b"x" * 0x10000 + b"\r\n")
    except OSError:
        pass
    s.settimeout(5)
    try:
        got = s.recv(4096)
    except OSError:
        pass
    s.close()
    check_true("a chunked body past 1 MiB: 413", got.startswith(b"HTTP/1.1 413"), got[:80])
    # Garbage instead of HTTP.
    out, closed = raw_http(srv.http_port, b"\x00\x01\x02 not http at all\r\n\r\n")
    check_true("garbage: 400 and closed", out.startswith(b"HTTP/1.1 400") and closed, out[:80])

    # Slowloris: many connections that send headers a byte at a time; others
    # are still served, and memory stays bounded.
    slow = []
    for _ in range(100):
        c = socket.create_connection(("127.0.0.1", srv.http_port), timeout=10)
        c.sendall(b"POST /v1/acquire HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        slow.append(c)
    for _ in range(3):
        for c in slow:
            c.sendall(b"a")
        time.sleep(0.05)
    start = time.time()
    s_, _, _ = get(srv, "/healthz")
    r = Resp(srv.port)
    pong = r.cmd("PING")
    r.close()
    check_true("slowloris: others are still served", s_ == 200 and pong == "PONG")
    for c in slow[1:]:
        c.close()
    # The one left open is answered 408 and closed once its request has been
    # arriving for 10 s (checked once a second).
    c = slow[0]
    c.settimeout(25)
    got = b""
    try:
        while True:
            chunk = c.recv(4096)
            if not chunk:
                break
            got += chunk
    except OSError:
        pass
    c.close()
    check_true("slowloris: a request not complete after 10 s gets 408 and is closed",
               got.startswith(b"HTTP/1.1 408") and b"Connection: close" in got, got[:80])
    # Many big bodies in parallel, each just under the limit.
    body = json.dumps({"key": "big", "holder": "h", "ttl_ms": 1000,
                       "pad": "y" * (1024 * 1024 - 200)}).encode()
    conns = []
    for _ in range(20):
        c = socket.create_connection(("127.0.0.1", srv.http_port), timeout=10)
        c.sendall(b"POST /v1/acquire HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                  % len(body) + body[: len(body) // 2])
        conns.append(c)
    mid_rss = srv.rss_kb()
    for c in conns:
        c.close()
    check_true("memory stays bounded under hostile input",
               mid_rss - base_rss < 200 * 1024, f"rss {base_rss} -> {mid_rss} KB")
    check_equal("the server is alive after all of it", get(srv, "/healthz")[0], 200)


def test_maxclients():
    srv = Server(["--maxclients", "2"])
    try:
        # Two clients the server answered (the start-up probe's connection
        # may still count for a moment: a refused one is retried).
        held = []
        for _ in range(50):
            c = socket.create_connection(("127.0.0.1", srv.http_port), timeout=5)
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            rs = read_responses(c, 1)
            if rs and rs[0][0] == 200:
                held.append(c)
                if len(held) == 2:
                    break
            else:
                c.close()
                time.sleep(0.05)
        out, closed = raw_http(srv.http_port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        check_true("maxclients: an HTTP client past it gets 503 and is closed",
                   out.startswith(b"HTTP/1.1 503") and closed, out[:80])
        for c in held:
            c.close()
    finally:
        srv.stop()


def main():
    if not os.path.exists(SERVER):
        not_ok(f"server binary {SERVER} exists")
        return 1
    srv = Server(["--appendonly", "yes", "--appendfsync", "always"])
    try:
        for t in (test_endpoints, test_errors, test_keepalive_pipelining, test_waits_and_fifo,
                  test_hostile):
            try:
                t(srv)
            except Exception as e:  # a broken check must not hide the others
                not_ok(f"{t.__name__} ran to the end", repr(e))
    finally:
        srv.stop()
    for t in (test_metrics, test_auth, test_durability, test_health_misconf, test_maxclients):
        try:
            t()
        except Exception as e:
            not_ok(f"{t.__name__} ran to the end", repr(e))
    print(f"# {tap.count - tap.failures} passed, {tap.failures} failed")
    return 1 if tap.failures else 0


if __name__ == "__main__":
    sys.exit(main())
