#!/usr/bin/python3
"""Helpers for scripts/bench.sh that redis-benchmark cannot do by itself.

Subcommands (each prints key=value lines on stdout for bench.sh to read):
  ports N                       N free TCP ports on 127.0.0.1 (never 6379)
  ready --port P --pid PID ...  wait until the server answers PING with PONG
  fill --port P --pid PID ...   hold N locks with a long ttl; RSS and used_memory deltas
  expire --port P ...           hold N locks that all expire at one deadline, and time
                                PINGs from a second connection across that deadline
  rewrite --port P ...          BGREWRITEAOF while a second connection times PINGs, until
                                INFO shows no rewrite in progress or scheduled
  aofstat --dir D               the records of the append-only log(s) under D, by command
  stall --port P --case C ...   one client's load (case C: conns, pipeline, bigarg, rewrite,
                                and the abuse kinds: slowloris, never-read, blocked-streaming,
                                waiters-storm, garbage, mass-expiry)
                                run in a child process while a second connection times
                                PINGs back to back; PING max and p99 over the case, peak RSS
  stallload --port P --case C   that load alone (the child of `stall`)
  scriptload --port P --file F  SCRIPT LOAD of F's exact bytes; the SHA1 the server
                                answers, checked against the bytes' own
  probe --port P ARG...         one command; whether the server answered an error

The "kind" of a server says which command takes a lock: lockd's
`LOCK.ACQUIRE key holder ttl_ms` or Redis's `SET key holder NX PX ttl_ms`. Every
key and holder is 17 bytes ("lock:%012d", "holder-%010d"). Bulk loads go
through `redis-cli --pipe`, fed with RESP generated here.

Only the standard library is used, so that a fresh machine needs nothing more.
"""

import argparse
import hashlib
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

BATCH = 1000  # commands generated (and, for expire, given one ttl) at a time


# ---------------------------------------------------------------------------
# A minimal RESP2 client: enough for PING, DBSIZE, INFO and SHUTDOWN.

class RespError(Exception):
    pass


class Conn:
    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _fill(self):
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionError("server closed the connection")
        self.buf += data

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            self._fill()

    def _reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return RespError(rest.decode(errors="replace"))
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data.decode(errors="replace")
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        if t == b"_":
            return None
        raise RespError("unexpected reply type %r" % line[:20])

    def call(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        r = self._reply()
        if isinstance(r, RespError):
            raise r
        return r

    def info(self):
        """INFO (all sections) as a dict of field -> string."""
        fields = {}
        for line in self.call("INFO", "all").splitlines():
            if ":" in line and not line.startswith("#"):
                k, v = line.split(":", 1)
                fields[k] = v
        return fields


def rss_bytes(pid):
    with open("/proc/%d/statm" % pid) as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def alive(pid):
    """False once the process has exited, even while it is an unreaped zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def emit(**kv):
    for k, v in kv.items():
        if isinstance(v, float):
            v = "%.6g" % v
        print("%s=%s" % (k, v))
    sys.stdout.flush()


def warn(msg):
    print("bench_helper: " + msg, file=sys.stderr)


# ---------------------------------------------------------------------------
# Bulk loading through redis-cli --pipe.

def command_format(kind):
    """A bytes %-format taking (index, index, ttl_len, ttl) for one lock command."""
    key = b"$17\r\nlock:%012d\r\n"
    holder = b"$17\r\nholder-%010d\r\n"
    ttl = b"$%d\r\n%s\r\n"
    if kind == "lockd":
        return b"*4\r\n$12\r\nLOCK.ACQUIRE\r\n" + key + holder + ttl
    if kind == "redis":
        return b"*6\r\n$3\r\nSET\r\n" + key + holder + b"$2\r\nNX\r\n$2\r\nPX\r\n" + ttl
    raise SystemExit("unknown kind %r" % kind)


def pipe_load(port, kind, count, ttl_of_batch):
    """Sends `count` lock commands through redis-cli --pipe. ttl_of_batch() is
    called before each batch and returns that batch's ttl in ms. Returns
    (seconds, errors, replies)."""
    fmt = command_format(kind)
    proc = subprocess.Popen(
        ["redis-cli", "-h", "127.0.0.1", "-p", str(port), "--pipe"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    start = time.monotonic()
    try:
        for lo in range(0, count, BATCH):
            ttl = b"%d" % ttl_of_batch()
            proc.stdin.write(b"".join(
                [fmt % (i, i, len(ttl), ttl) for i in range(lo, min(lo + BATCH, count))]))
        proc.stdin.close()
        out = proc.stdout.read().decode(errors="replace")
        rc = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    seconds = time.monotonic() - start
    errors = replies = -1
    for line in out.splitlines():
        if line.startswith("errors:"):
            parts = line.replace(",", "").split()
            errors, replies = int(parts[1]), int(parts[3])
    if rc != 0 or errors != 0 or replies != count:
        warn("redis-cli --pipe: exit %d, output: %s" % (rc, out.strip()))
        raise SystemExit(1)
    return seconds, errors, replies


# ---------------------------------------------------------------------------
# Subcommands.

def cmd_ports(args):
    socks, ports = [], []
    while len(ports) < args.n:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        p = s.getsockname()[1]
        socks.append(s)
        if p != 6379 and p not in ports:
            ports.append(p)
    for s in socks:
        s.close()
    print("\n".join(map(str, ports)))


def cmd_ready(args):
    """Waits for PONG (not -LOADING) and prints seconds since --since-ns."""
    since = args.since_ns if args.since_ns else time.time_ns()
    deadline = time.monotonic() + args.timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if args.pid and not alive(args.pid):
            warn("server (pid %d) exited before it was ready" % args.pid)
            raise SystemExit(1)
        try:
            c = Conn(args.port, timeout=2)
            try:
                if c.call("PING") == "PONG":
                    emit(ready_secs=(time.time_ns() - since) / 1e9)
                    return
            finally:
                c.close()
        except (OSError, RespError, ConnectionError) as e:
            last = str(e)
        time.sleep(args.poll_ms / 1000.0)
    warn("port %d not ready after %gs (%s)" % (args.port, args.timeout, last))
    raise SystemExit(1)


def cmd_fill(args):
    c = Conn(args.port)
    info0 = c.info()
    keys0 = c.call("DBSIZE")
    rss0 = rss_bytes(args.pid)
    secs, _, replies = pipe_load(args.port, args.kind, args.count, lambda: args.ttl)
    time.sleep(0.5)  # let the server finish freeing the loader's buffers
    rss1 = rss_bytes(args.pid)
    info1 = c.info()
    keys1 = c.call("DBSIZE")
    c.close()
    n = args.count
    out = dict(load_secs=secs, load_rate=n / secs, replies=replies,
               dbsize_before=keys0, dbsize_after=keys1,
               rss_before=rss0, rss_after=rss1, rss_per_lock=(rss1 - rss0) / n)
    if "used_memory" in info0 and "used_memory" in info1:
        u0, u1 = int(info0["used_memory"]), int(info1["used_memory"])
        out.update(used_before=u0, used_after=u1, used_per_lock=(u1 - u0) / n)
    emit(**out)


def percentile(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    # Nearest rank: the smallest value with at least p% of the values <= it.
    i = min(len(sorted_vals) - 1, max(0, math.ceil(p / 100.0 * len(sorted_vals)) - 1))
    return sorted_vals[i]


def expiry_counter(info):
    for field in ("locks_expiries", "expired_keys"):
        if field in info:
            return int(info[field])
    return -1


def cmd_expire(args):
    n = args.count
    admin = Conn(args.port)
    exp0 = expiry_counter(admin.info())
    keys0 = admin.call("DBSIZE")

    # Every batch gets ttl = (deadline - now), so that all leases end within a
    # few milliseconds of one common deadline, whatever the load speed.
    deadline = time.monotonic() + args.lead
    ttl_min = [1 << 62]

    def ttl_of_batch():
        ttl = max(1, int((deadline - time.monotonic()) * 1000))
        ttl_min[0] = min(ttl_min[0], ttl)
        return ttl

    load_secs, _, _ = pipe_load(args.port, args.kind, n, ttl_of_batch)
    loaded_at = time.monotonic()
    keys_loaded = admin.call("DBSIZE")
    if loaded_at > deadline - args.before:
        warn("loading ended %.2fs before the deadline (wanted >= %.2fs); raise "
             "BENCH_EXPIRE_LEAD" % (deadline - loaded_at, args.before))

    # The probe: a second connection sends one PING at a time, every
    # --interval-ms, from `before` seconds ahead of the deadline until the
    # keys are gone (and at least --after seconds past it, at most --max-after).
    probe = Conn(args.port)
    probe.call("PING")
    while time.monotonic() < deadline - args.before:
        time.sleep(0.001)
    interval = args.interval_ms / 1000.0
    lat = []  # (seconds relative to the deadline, latency in seconds)
    emptied_at = None
    next_check = time.monotonic()
    ping = b"*1\r\n$4\r\nPING\r\n"
    sock = probe.sock
    while True:
        t = time.monotonic()
        if t - deadline > args.max_after:
            break
        if t >= next_check:
            next_check = t + 0.1
            if emptied_at is None and admin.call("DBSIZE") == 0:
                emptied_at = time.monotonic() - deadline
            if emptied_at is not None and t - deadline >= args.after:
                break
        t0 = time.perf_counter()
        sock.sendall(ping)
        got = b""
        while not got.endswith(b"\r\n"):
            got += sock.recv(64)
        t1 = time.perf_counter()
        if got != b"+PONG\r\n":
            warn("unexpected PING reply %r" % got)
            raise SystemExit(1)
        lat.append((t - deadline, t1 - t0))
        pause = t + interval - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    probe.close()
    info1 = admin.info()
    keys1 = admin.call("DBSIZE")
    admin.close()

    # The expiry window: from just before the deadline until the keys are all
    # gone (at least one second). This is where the leases actually end.
    exp_end = max(1.0, emptied_at if emptied_at is not None else args.max_after)
    all_ms = sorted(l * 1000 for _, l in lat)
    exp_ms = sorted(l * 1000 for t, l in lat if -0.1 <= t <= exp_end)
    # The same probe while nothing expires yet: what this machine gives anyway.
    idle_ms = sorted(l * 1000 for t, l in lat if t < -0.1)
    worst_t, _ = max(lat, key=lambda x: x[1]) if lat else (0, 0)
    emit(load_secs=load_secs, load_rate=n / load_secs,
         slack_secs=deadline - loaded_at, ttl_min_ms=ttl_min[0],
         dbsize_before=keys0, dbsize_loaded=keys_loaded, dbsize_after=keys1,
         expired=(expiry_counter(info1) - exp0) if exp0 >= 0 else -1,
         emptied_secs=(emptied_at if emptied_at is not None else -1),
         pings=len(all_ms), p50_ms=percentile(all_ms, 50), p99_ms=percentile(all_ms, 99),
         max_ms=(all_ms[-1] if all_ms else float("nan")), max_at_secs=worst_t,
         exp_window_secs=exp_end + 0.1, exp_pings=len(exp_ms),
         exp_p50_ms=percentile(exp_ms, 50), exp_p99_ms=percentile(exp_ms, 99),
         exp_p999_ms=percentile(exp_ms, 99.9),
         exp_max_ms=(exp_ms[-1] if exp_ms else float("nan")),
         idle_pings=len(idle_ms), idle_p50_ms=percentile(idle_ms, 50),
         idle_p99_ms=percentile(idle_ms, 99),
         idle_max_ms=(idle_ms[-1] if idle_ms else float("nan")))


# ---------------------------------------------------------------------------
# BGREWRITEAOF under a PING probe.

def persistence(conn):
    """INFO persistence as a dict of field -> string."""
    fields = {}
    for line in conn.call("INFO", "persistence").splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            fields[k] = v.strip()
    return fields


def rewriting(fields):
    return (fields.get("aof_rewrite_in_progress", "0") != "0" or
            fields.get("aof_rewrite_scheduled", "0") != "0")


class Prober(threading.Thread):
    """Sends one PING at a time on its own connection, every `interval`
    seconds, and keeps (monotonic send time, latency in seconds) pairs."""

    def __init__(self, port, interval):
        super().__init__(daemon=True)
        self.conn = Conn(port)
        self.conn.call("PING")
        self.interval = interval
        self.samples = []
        self.error = None
        self.stop = threading.Event()

    def run(self):
        ping = b"*1\r\n$4\r\nPING\r\n"
        sock = self.conn.sock
        try:
            while not self.stop.is_set():
                t = time.monotonic()
                t0 = time.perf_counter()
                sock.sendall(ping)
                got = b""
                while not got.endswith(b"\r\n"):
                    data = sock.recv(64)
                    if not data:
                        raise ConnectionError("server closed the probe connection")
                    got += data
                t1 = time.perf_counter()
                if got != b"+PONG\r\n":
                    raise RespError("unexpected PING reply %r" % got)
                self.samples.append((t, t1 - t0))
                pause = t + self.interval - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
        except Exception as e:  # reported by the main thread
            self.error = e
        finally:
            self.conn.close()


def latency_stats(prefix, ms):
    ms = sorted(ms)
    return {prefix + "pings": len(ms), prefix + "p50_ms": percentile(ms, 50),
            prefix + "p99_ms": percentile(ms, 99), prefix + "p999_ms": percentile(ms, 99.9),
            prefix + "max_ms": (ms[-1] if ms else float("nan"))}


def cmd_rewrite(args):
    # The probe thread must get the interpreter at once when its PONG arrives.
    sys.setswitchinterval(0.0002)
    admin = Conn(args.port, timeout=args.timeout)
    # A rewrite already under way (an automatic one) would be measured instead.
    until = time.monotonic() + args.timeout
    while rewriting(persistence(admin)):
        if time.monotonic() > until:
            warn("a rewrite was still in progress after %gs, before BGREWRITEAOF" % args.timeout)
            raise SystemExit(1)
        time.sleep(0.05)
    info0 = persistence(admin)
    keys0 = admin.call("DBSIZE")

    prober = Prober(args.port, args.interval_ms / 1000.0)
    prober.start()
    time.sleep(args.idle)  # the probe with nothing else going on: this machine's baseline

    start = time.monotonic()
    try:
        reply = admin.call("BGREWRITEAOF")
    except RespError as e:
        prober.stop.set()
        warn("BGREWRITEAOF: -%s" % e)
        raise SystemExit(1)
    replied = time.monotonic()
    seen = False
    timed = True
    polls = 0
    while True:
        f = persistence(admin)
        polls += 1
        if rewriting(f):
            seen = True
        elif seen or int(f.get("aof_rewrites", "0")) > int(info0.get("aof_rewrites", "0")) \
                or f.get("aof_last_bgrewrite_status") != info0.get("aof_last_bgrewrite_status"):
            break
        if not seen and time.monotonic() - start > args.unseen_grace:
            # Over before the first INFO, and not counted in aof_rewrites.
            warn("no aof_rewrite_in_progress:1 and no change of aof_rewrites %gs after "
                 "BGREWRITEAOF" % args.unseen_grace)
            timed = False
            break
        if time.monotonic() - start > args.timeout:
            prober.stop.set()
            warn("the rewrite was not over %gs after BGREWRITEAOF (%s)" % (
                args.timeout, ", ".join("%s:%s" % kv for kv in f.items() if "rewrite" in kv[0])))
            raise SystemExit(1)
        time.sleep(args.poll_ms / 1000.0)
    done = time.monotonic()
    time.sleep(args.after)  # what the end of the rewrite (its last flush, the rename) costs
    prober.stop.set()
    prober.join()
    if prober.error is not None:
        warn("the PING probe failed: %s" % prober.error)
        raise SystemExit(1)
    info1 = persistence(admin)
    keys1 = admin.call("DBSIZE")
    admin.close()

    samples = prober.samples
    window = [(t - start, l * 1000) for t, l in samples if start <= t <= done + args.after]
    idle = [l * 1000 for t, l in samples if t < start]
    worst_at, _ = max(window, key=lambda x: x[1]) if window else (float("nan"), 0)
    out = dict(reply=str(reply).replace(" ", "_"), reply_ms=(replied - start) * 1000,
               rewrite_secs=(done - start) if timed else float("nan"),
               seen_in_progress=int(seen), info_polls=polls,
               window_secs=done + args.after - start, worst_at_secs=worst_at,
               status=info1.get("aof_last_bgrewrite_status", "?"),
               rewrites=(int(info1.get("aof_rewrites", "-1")) - int(info0.get("aof_rewrites", "0"))),
               size_before=info0.get("aof_current_size", "?"),
               size_after=info1.get("aof_current_size", "?"),
               base_size_after=info1.get("aof_base_size", "?"),
               server_rewrite_secs=info1.get("aof_last_rewrite_time_sec", "?"),
               dbsize_before=keys0, dbsize_after=keys1)
    out.update(latency_stats("rw_", [l for _, l in window]))
    out.update(rw_over_1ms=sum(1 for _, l in window if l > 1),
               rw_over_10ms=sum(1 for _, l in window if l > 10))
    if args.samples:
        with open(args.samples, "w") as f:
            f.write("# seconds from BGREWRITEAOF, PING latency ms (rewrite seen over at %.3f s)\n"
                    % (done - start))
            for t, l in samples:
                f.write("%.4f %.3f\n" % (t - start, l * 1000))
    out.update(latency_stats("idle_", idle))
    emit(**out)


# ---------------------------------------------------------------------------
# Stalls: what one client's load costs another client's PING.

def stall_conns(args):
    """Opens args.conns connections at once; each sends one lock command on a
    key of its own and reads the reply; then all close."""
    import selectors
    sel = selectors.DefaultSelector()
    fmt = command_format(args.kind)
    ttl = b"60000"
    socks = []
    for i in range(args.conns):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", args.port))
        socks.append(s)
        sel.register(s, selectors.EVENT_WRITE, [i, b""])
    pending, errors = len(socks), 0
    deadline = time.monotonic() + args.timeout
    while pending and time.monotonic() < deadline:
        for key, ev in sel.select(timeout=1.0):
            s, state = key.fileobj, key.data
            if ev & selectors.EVENT_WRITE:
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                    errors += 1
                    pending -= 1
                    sel.unregister(s)
                    continue
                s.sendall(fmt % (state[0], state[0], len(ttl), ttl))
                sel.modify(s, selectors.EVENT_READ, state)
                continue
            try:
                data = s.recv(256)
            except OSError:
                data = b""
            state[1] += data
            if not data or state[1].endswith(b"\r\n"):
                if not data or state[1][:1] == b"-":
                    errors += 1
                pending -= 1
                sel.unregister(s)
    for s in socks:
        s.close()
    return dict(conns=args.conns, unanswered=pending, errors=errors)


def stall_pipeline(args):
    secs, _, replies = pipe_load(args.port, args.kind, args.commands, lambda: 600000)
    return dict(commands=replies, load_secs=secs)


def stall_bigarg(args):
    """EXISTS with one argument of args.bytes bytes, sent as fast as the socket takes it."""
    conn = Conn(args.port, timeout=args.timeout)
    sock = conn.sock
    sock.sendall(b"*2\r\n$6\r\nEXISTS\r\n$%d\r\n" % args.bytes)
    chunk = memoryview(b"x" * (1 << 20))
    left = args.bytes
    start = time.monotonic()
    while left > 0:
        n = min(left, len(chunk))
        sock.sendall(chunk[:n])
        left -= n
    sock.sendall(b"\r\n")
    sent = time.monotonic()
    reply = conn._reply()
    conn.close()
    return dict(bytes=args.bytes, upload_secs=sent - start, reply=str(reply).replace(" ", "_"))


def stall_rewrite(args):
    """BGREWRITEAOF (of what the server holds) while this client keeps
    acquiring leases on keys of args.key_bytes bytes, until the rewrite is over
    or args.big_max leases were taken."""
    admin = Conn(args.port, timeout=args.timeout)
    big = Conn(args.port, timeout=args.timeout)
    pad = b"k" * (args.key_bytes - 12)
    acquired = [0]
    stop = threading.Event()
    failure = []

    def acquire():
        try:
            i = 0
            while not stop.is_set() and i < args.big_max:
                key = b"big:%08d" % i + pad[: args.key_bytes - 12]
                if args.kind == "lockd":
                    big.call("LOCK.ACQUIRE", key, "holder", args.big_ttl)
                else:
                    big.call("SET", key, "holder", "NX", "PX", args.big_ttl)
                i += 1
                acquired[0] = i
        except Exception as e:  # reported below
            failure.append(e)

    t = threading.Thread(target=acquire, daemon=True)
    t.start()
    time.sleep(args.lead)  # the big keys are flowing before the rewrite starts
    info0 = persistence(admin)
    try:
        reply = admin.call("BGREWRITEAOF")
    except RespError as e:
        stop.set()
        warn("BGREWRITEAOF: -%s" % e)
        raise SystemExit(1)
    start = time.monotonic()
    seen = False
    while time.monotonic() - start < args.timeout:
        f = persistence(admin)
        if rewriting(f):
            seen = True
        elif seen or int(f.get("aof_rewrites", "0")) > int(info0.get("aof_rewrites", "0")):
            break
        time.sleep(0.01)
    done = time.monotonic()
    stop.set()
    t.join(args.timeout)
    if failure:
        warn("acquiring big keys: %s" % failure[0])
        raise SystemExit(1)
    return dict(reply=str(reply).replace(" ", "_"), rewrite_secs=done - start,
                big_keys=acquired[0], status=persistence(admin).get("aof_last_bgrewrite_status", "?"))


# ---------------------------------------------------------------------------
# Abuse stalls: what a misbehaving client costs everybody else. Each has a
# counterpart on Redis where Redis has the same abuse (waiters block in BLPOP
# there; mass expiry is of PX keys on both sides).

def raw_connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def reset_close(s):
    """Closes with a reset, so this side keeps no TIME_WAIT entry."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()


def lock_command(kind, key, holder, ttl_ms, wait_s=None):
    """The acquire each side blocks in: LOCK.ACQUIRE ... WAIT, or BLPOP."""
    if kind == "lockd":
        if wait_s is None:
            return resp("LOCK.ACQUIRE", key, holder, ttl_ms)
        return resp("LOCK.ACQUIRE", key, holder, ttl_ms, "WAIT", int(wait_s * 1000))
    if wait_s is None:
        return resp("SET", key, holder, "NX", "PX", ttl_ms)
    return resp("BLPOP", key, int(wait_s))


def blocked_count(admin):
    return int(admin.info().get("blocked_clients", "-1"))


def wait_until(cond, timeout, what):
    until = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > until:
            warn("%s: not reached within %gs" % (what, timeout))
            raise SystemExit(1)
        time.sleep(0.02)


def stall_slowloris(args):
    """args.slow_conns connections each send one command one byte per
    args.byte_ms ms, then read its reply."""
    conns = [raw_connect(args.port) for _ in range(args.slow_conns)]
    cmds = [lock_command(args.kind, "slow:%d" % i, "holder", 600000) for i in range(len(conns))]
    start = time.monotonic()
    for b in range(max(len(c) for c in cmds)):
        for s, c in zip(conns, cmds):
            if b < len(c):
                s.sendall(c[b:b + 1])
        time.sleep(args.byte_ms / 1000.0)
    answered = 0
    for s in conns:
        got = b""
        while not got.endswith(b"\r\n"):
            data = s.recv(256)
            if not data:
                break
            got += data
        answered += got[:1] in (b":", b"+")
        s.close()
    return dict(slow_conns=len(conns), answered=answered, bytes_each=len(cmds[0]),
                trickle_secs=time.monotonic() - start)


def stall_neverread(args):
    """args.hogs clients send pipelined ECHOs of 4 KB and never read, each
    until args.hog_bytes are sent, the server closes it, or it takes nothing
    for 3 s."""
    batch = resp("ECHO", b"e" * 4096) * 64
    hogs = []
    for _ in range(args.hogs):
        s = raw_connect(args.port)
        s.setblocking(False)
        hogs.append([s, 0, "sending", time.monotonic()])
    start = time.monotonic()
    while any(h[2] == "sending" for h in hogs) and time.monotonic() - start < args.timeout:
        progressed = False
        for h in hogs:
            if h[2] != "sending":
                continue
            try:
                n = h[0].send(batch[h[1] % len(batch):])
                h[1] += n
                h[3] = time.monotonic()
                progressed = True
                if h[1] >= args.hog_bytes:
                    h[2] = "done"
            except BlockingIOError:
                if time.monotonic() - h[3] > 3.0:
                    h[2] = "stalled"
            except OSError:
                h[2] = "closed"
        if not progressed:
            time.sleep(0.005)
    out = dict(hogs=len(hogs), sent_mb=sum(h[1] for h in hogs) // 1048576,
               closed=sum(h[2] == "closed" for h in hogs),
               stalled=sum(h[2] == "stalled" for h in hogs),
               completed=sum(h[2] == "done" for h in hogs))
    for h in hogs:
        h[0].close()
    return out


def stall_blocked(args):
    """A client blocked in LOCK.ACQUIRE ... WAIT (BLPOP on Redis) streams
    pipelined PINGs behind it: args.stream_bytes, or until the server closes
    it or stops reading for 3 s."""
    admin = Conn(args.port)
    holder_conn = Conn(args.port)
    if args.kind == "lockd":
        holder_conn.call("LOCK.ACQUIRE", "hot", "holder", 600000)
    s = raw_connect(args.port)
    base = blocked_count(admin)
    s.sendall(lock_command(args.kind, "hot", "waiter", 600000, wait_s=600))
    wait_until(lambda: blocked_count(admin) == base + 1, 10, "the client blocking")
    s.setblocking(False)
    chunk = resp("PING") * 65536
    sent, outcome, last = 0, "completed", time.monotonic()
    while sent < args.stream_bytes:
        try:
            sent += s.send(chunk[sent % len(chunk):])
            last = time.monotonic()
        except BlockingIOError:
            if time.monotonic() - last > 3.0:
                outcome = "stalled"
                break
            time.sleep(0.002)
        except OSError:
            outcome = "closed"
            break
    s.close()
    wait_until(lambda: blocked_count(admin) == base, 10, "the blocked client leaving")
    holder_conn.close()
    admin.close()
    return dict(streamed_mb=sent // 1048576, outcome=outcome)


def stall_waiters(args):
    """args.waiters clients block on one held key (BLPOP on one list on
    Redis), then all disconnect at once; done when none is blocked."""
    admin = Conn(args.port)
    holder_conn = Conn(args.port)
    if args.kind == "lockd":
        holder_conn.call("LOCK.ACQUIRE", "storm", "holder", 600000)
    base = blocked_count(admin)
    socks = []
    for i in range(args.waiters):
        s = raw_connect(args.port)
        s.sendall(lock_command(args.kind, "storm", "w%d" % i, 600000, wait_s=600))
        socks.append(s)
    wait_until(lambda: blocked_count(admin) == base + len(socks), 60, "every waiter blocking")
    storm = time.monotonic()
    for s in socks:
        reset_close(s)
    wait_until(lambda: blocked_count(admin) == base, 60, "the waiters leaving")
    gone = time.monotonic() - storm
    if args.kind == "lockd":
        info = holder_conn.call("LOCK.INFO", "storm")
        left = info[info.index("waiters") + 1] if isinstance(info, list) else -1
    else:
        left = 0
    holder_conn.close()
    admin.close()
    return dict(waiters=len(socks), storm_secs=gone, waiters_left=left)


def stall_garbage(args):
    """args.garbage_conns connections, 64 at a time, each sends up to 2 KB of
    random bytes (some shaped like broken RESP), half-closes, and waits for
    the server's answer or close."""
    import random
    import selectors
    rng = random.Random(args.seed)

    def garbage():
        shape = rng.randrange(5)
        g = b""
        if shape == 1:
            g = b"*%d\r\n" % rng.randrange(-2 ** 31, 2 ** 31)
        elif shape == 2:
            g = b"*3\r\n$%d\r\n" % rng.randrange(100000)
        elif shape == 3:
            g = b"*2\r\n$4\r\nPING\r\n$-%d\r\n" % rng.randrange(10)
        elif shape == 4:
            g = b" ".join(b"%d" % rng.getrandbits(32) for _ in range(4)) + b"\r\n"
        n = 1 + rng.randrange(2048)
        return g + rng.randbytes(max(0, n - len(g)))

    answered = errors = 0
    start = time.monotonic()
    for lo in range(0, args.garbage_conns, 64):
        sel = selectors.DefaultSelector()
        socks = []
        for _ in range(min(64, args.garbage_conns - lo)):
            try:
                s = socket.create_connection(("127.0.0.1", args.port), timeout=10)
            except OSError:
                errors += 1
                continue
            try:
                s.sendall(garbage())
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # closed by the server already: an answer too
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
            socks.append(s)
        pending = len(socks)
        until = time.monotonic() + 10
        while pending and time.monotonic() < until:
            for key, _ in sel.select(timeout=0.5):
                sel.unregister(key.fileobj)
                pending -= 1
                answered += 1
        for s in socks:
            reset_close(s)
        sel.close()
    secs = time.monotonic() - start
    return dict(garbage_conns=args.garbage_conns, answered=answered, connect_errors=errors,
                conns_per_sec=args.garbage_conns / secs)


def stall_massexpiry(args):
    """args.leases leases (SET NX PX on Redis) all ending at one deadline
    args.expire_lead seconds after the load starts; done when they are gone."""
    admin = Conn(args.port)
    keys0 = admin.call("DBSIZE")
    deadline = time.monotonic() + args.expire_lead
    load_secs, _, _ = pipe_load(args.port, args.kind, args.leases,
                                lambda: max(1, int((deadline - time.monotonic()) * 1000)))
    slack = deadline - time.monotonic()
    wait_until(lambda: admin.call("DBSIZE") <= keys0, args.expire_lead + 120, "every lease expiring")
    emptied = time.monotonic() - deadline
    admin.close()
    return dict(leases=args.leases, load_secs=load_secs, slack_secs=slack, emptied_secs=emptied)


STALL_CASES = {"conns": stall_conns, "pipeline": stall_pipeline, "bigarg": stall_bigarg,
               "rewrite": stall_rewrite, "slowloris": stall_slowloris,
               "never-read": stall_neverread, "blocked-streaming": stall_blocked,
               "waiters-storm": stall_waiters, "garbage": stall_garbage,
               "mass-expiry": stall_massexpiry}


def cmd_stallload(args):
    emit(**STALL_CASES[args.case](args))


def cmd_stall(args):
    # The probe thread must get the interpreter at once when its PONG arrives;
    # the load itself runs in a child process, so it never holds this lock.
    sys.setswitchinterval(0.0002)
    # What is measured is the server's responsiveness, not how the two cores
    # share time between the probe and the load generator: the probe runs at a
    # higher priority when allowed (root), and the load child goes back to
    # normal. The servers keep their normal priority on both sides.
    raised = False
    try:
        os.setpriority(os.PRIO_PROCESS, 0, -10)
        raised = True
    except OSError:
        pass
    prober = Prober(args.port, args.interval_ms / 1000.0)
    peak = [rss_bytes(args.pid) if args.pid else 0]
    base_rss = peak[0]
    sampling = threading.Event()

    def sample_rss():
        while not sampling.is_set():
            try:
                peak[0] = max(peak[0], rss_bytes(args.pid))
            except OSError:
                return
            time.sleep(0.02)

    sampler = threading.Thread(target=sample_rss, daemon=True)
    if args.pid:
        sampler.start()
    prober.start()
    time.sleep(args.idle)
    child_args = [sys.executable, os.path.abspath(__file__), "stallload"]
    for k, v in vars(args).items():
        if k in ("fn", "cmd", "idle", "after", "interval_ms", "pid"):
            continue
        child_args += ["--" + k.replace("_", "-"), str(v)]
    start = time.monotonic()
    normal = (lambda: os.setpriority(os.PRIO_PROCESS, 0, 0)) if raised else None
    child = subprocess.Popen(child_args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             preexec_fn=normal)
    try:
        out, err = child.communicate(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        prober.stop.set()
        warn("case %s did not finish within %gs" % (args.case, args.timeout))
        raise SystemExit(1)
    done = time.monotonic()
    time.sleep(args.after)
    prober.stop.set()
    prober.join()
    sampling.set()
    if child.returncode != 0:
        warn("case %s: %s" % (args.case, err.decode(errors="replace").strip()[-500:]))
        raise SystemExit(1)
    if prober.error is not None:
        warn("the PING probe failed: %s" % prober.error)
        raise SystemExit(1)
    timed = [(t - start, l * 1000) for t, l in prober.samples if start <= t <= done + args.after]
    window = [l for _, l in timed]
    idle = [l * 1000 for t, l in prober.samples if t < start]
    worst_at = max(timed, key=lambda x: x[1])[0] if timed else float("nan")
    sys.stdout.write(out.decode(errors="replace"))
    emit(case_secs=done - start, worst_at_secs=worst_at, rss_peak=peak[0], rss_before=base_rss,
         **latency_stats("st_", window), **latency_stats("idle_", idle))


# ---------------------------------------------------------------------------
# What an append-only log holds.

RECORD_HEAD = re.compile(rb"(?<![^\n])\*[0-9]+\r\n\$[0-9]+\r\n([^\r]*)\r\n")


def resp_record_end(data, pos):
    """The end of the one RESP array of bulk strings at `pos`, or -1 if it is
    malformed or cut short."""
    eol = data.find(b"\r\n", pos)
    if data[pos:pos + 1] != b"*" or eol < 0:
        return -1
    p = eol + 2
    for _ in range(int(data[pos + 1:eol])):
        eol = data.find(b"\r\n", p)
        if data[p:p + 1] != b"$" or eol < 0:
            return -1
        p = eol + 2 + int(data[p + 1:eol]) + 2
        if p > len(data) or data[p - 2:p] != b"\r\n":
            return -1
    return p


def resp_records(data):
    """Counts the records (top-level RESP arrays of bulk strings) in `data` by
    their first element, upper-cased. A record is found by its header at the
    start of a line, which is exact for logs whose values hold no line breaks,
    as the benchmark's do. Returns (counts, end of the last whole record)."""
    counts = {}
    last = -1
    for m in RECORD_HEAD.finditer(data):
        name = m.group(1).upper().decode(errors="replace")
        counts[name] = counts.get(name, 0) + 1
        last = m.start()
    if last < 0:
        return counts, 0
    end = resp_record_end(data, last)
    if end < 0:  # a torn last record: not counted
        counts[name] -= 1
        return counts, last
    return counts, end


def cmd_aofstat(args):
    """Every file under --dir but the server's own log: RESP records by
    command, RDB files (Redis's rewritten base) by size, and others."""
    files, counts = [], {}
    total = rdb = other = 0
    for root, _, names in os.walk(args.dir):
        for name in sorted(names):
            path = os.path.join(root, name)
            rel = os.path.relpath(path, args.dir)
            if rel in args.skip or name.endswith(".manifest"):
                continue
            with open(path, "rb") as f:
                data = f.read()
            total += len(data)
            if data.startswith(b"REDIS"):
                rdb += len(data)
                files.append("%s:rdb:%d" % (rel, len(data)))
                continue
            c, parsed = resp_records(data)
            if not c and data:
                other += len(data)
                files.append("%s:other:%d" % (rel, len(data)))
                continue
            for k, v in c.items():
                counts[k] = counts.get(k, 0) + v
            files.append("%s:resp:%d%s" % (rel, len(data),
                                           "" if parsed == len(data) else ":torn@%d" % parsed))
    skip = {"SELECT", "MULTI", "EXEC"}
    emit(bytes=total, rdb_bytes=rdb, other_bytes=other,
         records=sum(counts.values()),
         data_records=sum(v for k, v in counts.items() if k not in skip),
         top_command=(max(counts, key=counts.get) if counts else "-"),
         top_command_records=(max(counts.values()) if counts else 0),
         by_command=",".join("%s:%d" % kv for kv in sorted(counts.items())) or "-",
         files=" ".join(files) or "-")


# ---------------------------------------------------------------------------
# The redlock section: scripts loaded by their exact bytes, and a probe that
# tells whether a server knows a command before redis-benchmark floods it.

def cmd_scriptload(args):
    with open(args.file, "rb") as f:
        body = f.read()
    want = hashlib.sha1(body).hexdigest()
    conn = Conn(args.port)
    try:
        got = conn.call("SCRIPT", "LOAD", body)
    except RespError as e:
        emit(ok=0, error=str(e).replace("\n", " "))
        return
    finally:
        conn.close()
    if got != want:
        emit(ok=0, error="SCRIPT LOAD answered %s, the SHA1 of the bytes is %s" % (got, want))
        return
    emit(ok=1, sha=got)


def cmd_probe(args):
    conn = Conn(args.port)
    try:
        reply = conn.call(*args.argv)
    except RespError as e:
        emit(ok=0, error=str(e).replace("\n", " "))
        return
    finally:
        conn.close()
    emit(ok=1, reply=repr(reply))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("ports")
    p.add_argument("n", type=int)
    p.set_defaults(fn=cmd_ports)

    p = sub.add_parser("ready")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pid", type=int, default=0)
    p.add_argument("--since-ns", type=int, default=0)
    p.add_argument("--timeout", type=float, default=20)
    p.add_argument("--poll-ms", type=float, default=5)
    p.set_defaults(fn=cmd_ready)

    p = sub.add_parser("fill")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--kind", choices=["lockd", "redis"], required=True)
    p.add_argument("--count", type=int, default=1000000)
    p.add_argument("--ttl", type=int, default=600000)
    p.set_defaults(fn=cmd_fill)

    p = sub.add_parser("expire")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--kind", choices=["lockd", "redis"], required=True)
    p.add_argument("--count", type=int, default=1000000)
    p.add_argument("--lead", type=float, default=8.0,
                   help="seconds from the start of loading to the common deadline")
    p.add_argument("--before", type=float, default=1.1,
                   help="start probing this many seconds before the deadline")
    p.add_argument("--after", type=float, default=2.0,
                   help="probe at least this long past the deadline")
    p.add_argument("--max-after", type=float, default=30.0,
                   help="stop probing this long past the deadline, keys gone or not")
    p.add_argument("--interval-ms", type=float, default=1.0)
    p.set_defaults(fn=cmd_expire)

    p = sub.add_parser("rewrite")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--idle", type=float, default=0.5,
                   help="probe this long before BGREWRITEAOF (the idle baseline)")
    p.add_argument("--after", type=float, default=0.5,
                   help="probe this long after the rewrite is seen over")
    p.add_argument("--interval-ms", type=float, default=1.0)
    p.add_argument("--poll-ms", type=float, default=10.0,
                   help="INFO persistence every this many ms (another connection)")
    p.add_argument("--timeout", type=float, default=600.0)
    p.add_argument("--samples", help="write every PING's time and latency to this file")
    p.add_argument("--unseen-grace", type=float, default=10.0,
                   help="give up waiting when INFO never shows the rewrite this long")
    p.set_defaults(fn=cmd_rewrite)

    p = sub.add_parser("aofstat")
    p.add_argument("--dir", required=True)
    p.add_argument("--skip", action="append", default=["server.log"],
                   help="a file (relative to --dir) that is not part of the log")
    p.set_defaults(fn=cmd_aofstat)

    for name, fn in (("stall", cmd_stall), ("stallload", cmd_stallload)):
        p = sub.add_parser(name)
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--kind", choices=["lockd", "redis"], required=True)
        p.add_argument("--case", choices=sorted(STALL_CASES), required=True)
        p.add_argument("--timeout", type=float, default=300.0)
        p.add_argument("--conns", type=int, default=5000, help="conns: connections at once")
        p.add_argument("--commands", type=int, default=1000000,
                       help="pipeline: commands on one connection")
        p.add_argument("--bytes", type=int, default=512 * 1024 * 1024,
                       help="bigarg: the argument's length")
        p.add_argument("--key-bytes", type=int, default=1024 * 1024,
                       help="rewrite: length of each key the other client acquires")
        p.add_argument("--big-max", type=int, default=400,
                       help="rewrite: at most this many such leases")
        p.add_argument("--big-ttl", type=int, default=5000, help="rewrite: their ttl in ms")
        p.add_argument("--slow-conns", type=int, default=5, help="slowloris: connections")
        p.add_argument("--byte-ms", type=float, default=100.0,
                       help="slowloris: ms between one byte and the next")
        p.add_argument("--hogs", type=int, default=4, help="never-read: clients")
        p.add_argument("--hog-bytes", type=int, default=64 * 1024 * 1024,
                       help="never-read: bytes each sends at most")
        p.add_argument("--stream-bytes", type=int, default=64 * 1024 * 1024,
                       help="blocked-streaming: bytes streamed behind the block")
        p.add_argument("--waiters", type=int, default=2000, help="waiters-storm: waiters")
        p.add_argument("--garbage-conns", type=int, default=100000,
                       help="garbage: connections")
        p.add_argument("--seed", type=int, default=1, help="garbage: random seed")
        p.add_argument("--leases", type=int, default=1000000, help="mass-expiry: leases")
        p.add_argument("--expire-lead", type=float, default=8.0,
                       help="mass-expiry: seconds from the load's start to the deadline")
        p.add_argument("--lead", type=float, default=0.5,
                       help="rewrite: seconds of big keys before BGREWRITEAOF")
        if name == "stall":
            p.add_argument("--pid", type=int, default=0, help="the server's pid, for RSS")
            p.add_argument("--idle", type=float, default=0.5,
                           help="probe this long before the load (the idle baseline)")
            p.add_argument("--after", type=float, default=0.5,
                           help="probe this long after the load is over")
            p.add_argument("--interval-ms", type=float, default=0.0,
                           help="pause between PINGs (0: back to back)")
        p.set_defaults(fn=fn)

    p = sub.add_parser("scriptload")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--file", required=True)
    p.set_defaults(fn=cmd_scriptload)

    p = sub.add_parser("probe")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("argv", nargs="+")
    p.set_defaults(fn=cmd_probe)

    args = ap.parse_args()
    # bench.sh stops a helper with SIGTERM; unwind so that a redis-cli child is killed too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        args.fn(args)
    except KeyboardInterrupt:
        raise SystemExit(130)


if __name__ == "__main__":
    main()
