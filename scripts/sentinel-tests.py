#!/usr/bin/env python3
"""Failover of lockd driven by an unmodified redis-sentinel, judged by a history
checker. Each scenario starts three lockd nodes (one primary, two replicas,
each from its own config file so that CONFIG REWRITE works) and three
sentinels (quorum 2) on loopback, runs client threads through redis-py's
redis.sentinel.Sentinel, records every call (invocation and response times on
the monotonic clock, and the result), breaks the topology, and checks the
history afterwards:

  a. SIGKILL of the primary under load; the old primary, restarted from its
     config file, comes back as a replica.
  b. SIGSTOP of the primary past the failover, then SIGCONT: it must turn
     replica and refuse writes, and nothing it acknowledges may conflict.
  c. SIGSTOP of both replicas while the primary goes on, then SIGKILL of the
     primary and SIGCONT of the replicas (the case where Redis + Sentinel
     gives one lock to two clients), under lock-replica-ack reservations and
     under lock-replica-ack always.

Checks over each history: fencing tokens never go backwards (globally and per
key), no key is held by two holders at once in the intervals the clients were
told, and under `always` every lease acknowledged before the kill and still
running is on the new primary. The checker is shown to catch bad histories
(self-test lines). LOCKD_SENTINEL_UNSAFE=1 also runs scenario c with
min-replicas-to-write 0, where the checker is expected to find a violation.

Prints "ok <n> - <what>" / "not ok <n> - <what>" (scripts/run-tests.sh counts
them) and exits non-zero if any check failed. Every wait is bounded; every
process started here is killed by its PID at the end of its scenario."""

import bisect
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

try:
    import redis
    import redis.sentinel
except ImportError:  # a Python without the Debian package on its path
    sys.path.append("/usr/lib/python3/dist-packages")
    import redis
    import redis.sentinel

import tap  # noqa: E402  (scripts/tap.py: one line per check)
from tap import ok, not_ok, check_true, free_port, note  # noqa: E402

SERVER = os.environ.get("LOCKD_SERVER", "build/lockd-server")
SENTINEL = os.environ.get("REDIS_SENTINEL", "redis-sentinel")
REDIS_SERVER = os.environ.get("REDIS_SERVER", "redis-server")
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 4000
MASTER = "m"
# Scenario c's leases that must outlive the failover. The promoted node's
# lock-delay runs until about then, so this also bounds that scenario.
LONG_TTL_MS = 15000
# What scenario c returns when its failover outlasted the leases it checks.
INCONCLUSIVE = "inconclusive"
def wait_for(cond, timeout, step=0.1):
    """Polls cond() until it returns a true value or timeout seconds pass."""
    end = time.monotonic() + timeout
    while True:
        try:
            v = cond()
        except (redis.RedisError, OSError):
            v = None
        if v:
            return v
        if time.monotonic() >= end:
            return None
        time.sleep(step)


def direct(port, timeout=3.0):
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=timeout,
                       socket_connect_timeout=timeout, decode_responses=True)


# ---------------------------------------------------------------- topology


class Node:
    """A lockd node, or (kind "redis") a redis-server as the reference."""

    def __init__(self, root, i, directives, kind="lockd"):
        self.kind = kind
        self.port = free_port()
        self.dir = os.path.join(root, f"node{i}")
        os.makedirs(self.dir)
        self.conf = os.path.join(self.dir, "lockd.conf")
        lines = [f"port {self.port}", "bind 127.0.0.1", f"dir {self.dir}",
                 f"logfile {os.path.join(self.dir, 'lockd.log')}"] + directives
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = None

    def start(self):
        binary = SERVER if self.kind == "lockd" else REDIS_SERVER
        self.proc = subprocess.Popen([binary, self.conf], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if self.alive():
            os.kill(self.proc.pid, sig)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            os.kill(self.proc.pid, signal.SIGKILL)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def role(self):
        return direct(self.port, 2).execute_command("ROLE")[0]

    def log_tail(self, lines=8):
        try:
            with open(os.path.join(self.dir, "lockd.log")) as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""


class SentinelProc:
    def __init__(self, root, i, master_port, quorum=2, down_after=DOWN_AFTER_MS):
        self.port = free_port()
        self.dir = os.path.join(root, f"sentinel{i}")
        os.makedirs(self.dir)
        self.conf = os.path.join(self.dir, "sentinel.conf")
        with open(self.conf, "w") as f:
            f.write(f"""port {self.port}
bind 127.0.0.1
protected-mode no
daemonize no
dir {self.dir}
logfile {os.path.join(self.dir, 'sentinel.log')}
sentinel resolve-hostnames no
sentinel monitor {MASTER} 127.0.0.1 {master_port} {quorum}
sentinel down-after-milliseconds {MASTER} {down_after}
sentinel failover-timeout {MASTER} {FAILOVER_TIMEOUT_MS}
sentinel parallel-syncs {MASTER} 2
""")
        self.proc = subprocess.Popen([SENTINEL, self.conf], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def cmd(self, *args):
        return direct(self.port, 2).execute_command(*args)

    def log_tail(self, lines=15):
        try:
            with open(os.path.join(self.dir, "sentinel.log")) as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def failover_events(self):
        """The log's failover lines (+try-failover, +elected-leader,
        -failover-abort-*, +promoted-slave, ...): why a failover was slow."""
        try:
            with open(os.path.join(self.dir, "sentinel.log")) as f:
                return [line.rstrip() for line in f
                        if re.search(r"[-+](failover|elected|promoted|sdown|odown)", line)]
        except OSError:
            return []


class Topology:
    """Three lockd nodes (node 0 the primary) and three sentinels."""

    def __init__(self, name, directives, down_after=DOWN_AFTER_MS, kind="lockd"):
        self.down_after = down_after
        self.root = tempfile.mkdtemp(prefix=f"lockd-sentinel-{name}-")
        self.nodes = []
        self.sentinels = []
        for i in range(3):
            extra = list(directives)
            self.nodes.append(Node(self.root, i, extra, kind))
        for i in (1, 2):
            with open(self.nodes[i].conf, "a") as f:
                f.write(f"replicaof 127.0.0.1 {self.nodes[0].port}\n")

    def start(self):
        for node in self.nodes:
            node.start()
        primary = self.nodes[0]
        if not wait_for(lambda: len(direct(primary.port).execute_command("ROLE")[2]) == 2, 30):
            return "replicas did not come online: " + primary.log_tail()
        for i in range(3):
            self.sentinels.append(SentinelProc(self.root, i, primary.port,
                                               down_after=self.down_after))
        if not wait_for(self.sentinels_ready, 40, 0.2):
            return "sentinels not ready:\n" + self.sentinels[0].log_tail()
        return None

    def sentinels_ready(self):
        for s in self.sentinels:
            m = s.cmd("SENTINEL", "MASTER", MASTER)
            info = dict(zip(m[0::2], m[1::2]))
            if info.get("flags") != "master" or info.get("num-slaves") != "2" or \
                    info.get("num-other-sentinels") != "2":
                return False
            for r in s.cmd("SENTINEL", "REPLICAS", MASTER):
                rinfo = dict(zip(r[0::2], r[1::2]))
                if rinfo.get("flags") != "slave" or rinfo.get("master-link-status") != "ok":
                    return False
        return True

    def master_port(self):
        """The primary's port as a majority of sentinels report it."""
        ports = []
        for s in self.sentinels:
            try:
                ports.append(int(s.cmd("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER)[1]))
            except (redis.RedisError, OSError, TypeError):
                pass
        for p in ports:
            if ports.count(p) >= 2:
                return p
        return None

    def node_by_port(self, port):
        for node in self.nodes:
            if node.port == port:
                return node
        return None

    def wait_failover(self, old_port, timeout=30):
        def promoted():
            p = self.master_port()
            if p is None or p == old_port:
                return None
            return p if direct(p).execute_command("ROLE")[0] == "master" else None
        return wait_for(promoted, timeout, 0.1)

    def failover_events(self, last=8):
        """Each sentinel's latest failover log lines, labelled."""
        return [f"sentinel{i}: {line}" for i, s in enumerate(self.sentinels)
                for line in s.failover_events()[-last:]]

    def sentinel_client(self):
        return redis.sentinel.Sentinel([("127.0.0.1", s.port) for s in self.sentinels],
                                       socket_timeout=2, socket_connect_timeout=2)

    def stop(self, keep=os.environ.get("LOCKD_SENTINEL_KEEP") == "1"):
        """Kills every process by its PID; LOCKD_SENTINEL_KEEP=1 keeps the
        directory (logs, config files) and prints where it is."""
        if keep:
            note(f"kept {self.root}")
        for s in self.sentinels:
            s.kill()
        for node in self.nodes:
            node.kill()
        if not keep:
            shutil.rmtree(self.root, ignore_errors=True)


# ----------------------------------------------------------------- history

# One call: kind (acquire, renew, release, setnx, evalrel), key, holder, token
# (the lease's), ttl (ms), inv/resp (monotonic seconds), result: "ok" (granted,
# renewed, released), "no" (refused: null or 0), "err" (an error reply: not
# done), "unknown" (connection error or timeout: may have been done).

RELEASE_SCRIPT = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
                  "return redis.call('del', KEYS[1]) else return 0 end")


class History:
    def __init__(self):
        self.ops = []
        self.lock = threading.Lock()

    def add(self, op):
        with self.lock:
            self.ops.append(op)

    def snapshot(self):
        with self.lock:
            return list(self.ops)


def call(history, kind, key, holder, token, ttl, fn):
    op = {"kind": kind, "key": key, "holder": holder, "token": token, "ttl": ttl,
          "inv": time.monotonic()}
    try:
        value = fn()
        op["resp"] = time.monotonic()
        op["value"] = value
        if kind == "acquire":
            op["result"] = "ok" if isinstance(value, int) else "no"
            if op["result"] == "ok":
                op["token"] = value
        elif kind == "setnx":
            op["result"] = "ok" if value else "no"
        else:
            op["result"] = "ok" if value == 1 else "no"
    except (redis.ConnectionError, redis.TimeoutError, OSError) as e:
        op["resp"] = time.monotonic()
        op["result"] = "unknown"
        op["value"] = repr(e)
    except redis.ResponseError as e:
        op["resp"] = time.monotonic()
        op["result"] = "err"
        op["value"] = str(e)
    history.add(op)
    return op


class Load:
    """Client threads through Sentinel over a small key set."""

    def __init__(self, topo, history, threads=4, keys=6, lock_commands=True):
        self.lock_commands = lock_commands  # False: SET NX PX and the script only
        self.topo = topo
        self.history = history
        self.keys = [f"k{i}" for i in range(keys)]
        self.stop_flag = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True)
                        for i in range(threads)]

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=15)

    def run(self, idx):
        rng = random.Random(idx * 7919 + int(time.time()))
        sentinel = self.topo.sentinel_client()
        r = sentinel.master_for(MASTER, socket_timeout=3, socket_connect_timeout=2)
        held = None  # (kind, key, holder, token, ttl)
        seq = 0
        h = self.history
        while not self.stop_flag.is_set():
            if held is None:
                seq += 1
                key = rng.choice(self.keys)
                holder = f"w{idx}-{seq}"  # one holder per lease: every grant is a new token
                ttl = rng.choice([800, 1500, 2500])
                if self.lock_commands and rng.random() < 0.7:
                    args = ["LOCK.ACQUIRE", key, holder, ttl]
                    if rng.random() < 0.5:
                        args += ["WAIT", rng.choice([100, 300])]
                    op = call(h, "acquire", key, holder, None, ttl,
                              lambda: r.execute_command(*args))
                    if op["result"] == "ok":
                        held = ("lock", key, holder, op["token"], ttl)
                else:
                    op = call(h, "setnx", key, holder, None, ttl,
                              lambda: r.execute_command("SET", key, holder, "NX", "PX", ttl))
                    if op["result"] == "ok":
                        held = ("set", key, holder, None, ttl)
                if op["result"] in ("err", "unknown"):
                    time.sleep(0.05)
                elif op["result"] == "no":
                    time.sleep(rng.random() * 0.03)
                continue
            kind, key, holder, token, ttl = held
            x = rng.random()
            if kind == "lock" and x < 0.4:
                op = call(h, "renew", key, holder, token, ttl,
                          lambda: r.execute_command("LOCK.RENEW", key, holder, token, ttl))
                if op["result"] != "ok":
                    held = None
            elif kind == "lock":
                call(h, "release", key, holder, token, ttl,
                     lambda: r.execute_command("LOCK.RELEASE", key, holder, token))
                held = None
            else:
                call(h, "evalrel", key, holder, token, ttl,
                     lambda: r.execute_command("EVAL", RELEASE_SCRIPT, 1, key, holder))
                held = None
            time.sleep(rng.random() * 0.05)


# ----------------------------------------------------------------- checkers


def check_tokens(ops):
    """Every granted token is larger than every token granted (and
    acknowledged) before this grant was invoked: globally, and per key.
    Returns a list of violations."""
    grants = [o for o in ops if o["kind"] == "acquire" and o["result"] == "ok"]
    bad = []

    def scan(group, label):
        by_resp = sorted(group, key=lambda o: o["resp"])
        resps = [o["resp"] for o in by_resp]
        prefix = []  # prefix[i]: the op with the largest token among by_resp[:i+1]
        best = None
        for o in by_resp:
            if best is None or o["token"] > best["token"]:
                best = o
            prefix.append(best)
        for o in group:
            i = bisect.bisect_left(resps, o["inv"])  # by_resp[:i] answered before o was invoked
            if i > 0 and prefix[i - 1]["token"] >= o["token"]:
                p = prefix[i - 1]
                bad.append(f"{label}: token {o['token']} ({o['holder']} on {o['key']}, invoked "
                           f"{o['inv']:.3f}) not above {p['token']} ({p['holder']} on {p['key']}, "
                           f"answered {p['resp']:.3f})")
    scan(grants, "global")
    for key in sorted({o["key"] for o in grants}):
        scan([o for o in grants if o["key"] == key], f"key {key}")
    return bad


def lease_intervals(ops):
    """The intervals during which each holder was entitled to believe it held
    its key, per (key, holder).

    The conservative rule: the server grants (or renews) at some instant g
    between the call's invocation I and its response R, and the lease runs to
    g + ttl. The client only knows it holds the key from R, and it can only
    count on the lease until I + ttl (g + ttl is at least that). So each
    acknowledged grant or renewal gives [R, I + ttl). A correct server never
    grants the key to another holder before g + ttl >= I + ttl, and that
    grant's response comes later still, so two holders' intervals built this
    way never overlap on a correct server; both ends are the ones that make an
    overlap hardest to claim, so any overlap found is a real double grant.
    A release ends the holder's entitlement when it is invoked (whatever the
    reply): the client stops using the key before asking to free it."""
    leases = {}
    for o in sorted(ops, key=lambda o: o["inv"]):
        k = (o["key"], o["holder"])
        if o["kind"] in ("acquire", "setnx", "renew") and o["result"] == "ok":
            lease = leases.setdefault(k, {"key": o["key"], "holder": o["holder"],
                                          "token": o.get("token"), "spans": [], "released": None})
            if o["kind"] == "acquire":
                lease["token"] = o["token"]
            end = o["inv"] + o["ttl"] / 1000.0
            if lease["released"] is None and end > o["resp"]:
                lease["spans"].append([o["resp"], end, o])
        elif o["kind"] in ("release", "evalrel"):
            lease = leases.get(k)
            if lease is not None and lease["released"] is None:
                lease["released"] = o["inv"]
                for span in lease["spans"]:
                    span[1] = min(span[1], o["inv"])
    return leases


def check_mutex(ops):
    """No key held by two holders at once (see lease_intervals)."""
    bad = []
    by_key = {}
    for lease in lease_intervals(ops).values():
        for start, end, op in lease["spans"]:
            if end > start:
                by_key.setdefault(lease["key"], []).append((start, end, lease["holder"], op))
    for key, spans in sorted(by_key.items()):
        spans.sort(key=lambda s: s[0])
        active = []
        for s in spans:
            active = [a for a in active if a[1] > s[0]]
            for a in active:
                if a[2] != s[2]:
                    bad.append(f"key {key}: {a[2]} held [{a[0]:.3f}, {a[1]:.3f}) ({a[3]['kind']}, "
                               f"token {a[3].get('token')}) while {s[2]} held [{s[0]:.3f}, "
                               f"{s[1]:.3f}) ({s[3]['kind']}, token {s[3].get('token')})")
            active.append(s)
    return bad


def check_kept(history, port, before):
    """Every lease acknowledged before `before` that its client could still
    count on when the new primary was asked (no release invoked by then, and
    I + ttl after the answer) is held on the node at `port` by its holder,
    with its token. The load goes on meanwhile, so the history is read again
    after the lookups to leave out leases released before their lookup.
    Returns (leases checked, problems)."""
    c = direct(port)
    found = []
    for lease in lease_intervals(history.snapshot()).values():
        spans = [sp for sp in lease["spans"] if sp[2]["resp"] < before]
        if lease["released"] is not None or not spans:
            continue
        end = max(sp[1] for sp in spans)
        if end <= time.monotonic():
            continue
        got = c.execute_command("LOCK.INFO", lease["key"])
        found.append((lease, end, got, time.monotonic()))
    releases = {}
    for o in history.snapshot():
        if o["kind"] in ("release", "evalrel"):
            releases[o["holder"]] = min(o["inv"], releases.get(o["holder"], o["inv"]))
    bad = []
    checked = 0
    for lease, end, got, answered in found:
        if end <= answered or releases.get(lease["holder"], answered) < answered:
            continue
        checked += 1
        key = lease["key"]
        if got is None:
            bad.append(f"{key}: lease of {lease['holder']} (token {lease['token']}) missing")
            continue
        info = dict(zip(got[0::2], got[1::2]))
        if info.get("holder") != lease["holder"]:
            bad.append(f"{key}: held by {info.get('holder')}, expected {lease['holder']}")
        elif lease["token"] is not None and int(info.get("token")) != lease["token"]:
            bad.append(f"{key}: token {info.get('token')}, expected {lease['token']}")
    return checked, bad


def run_checks(label, ops, expect_bad=False):
    """The two history checks; with expect_bad, reports what was found without
    failing on it."""
    tok = check_tokens(ops)
    mut = check_mutex(ops)
    granted = sum(1 for o in ops if o["result"] == "ok" and o["kind"] in ("acquire", "setnx"))
    unknown = sum(1 for o in ops if o["result"] == "unknown")
    note(f"{label}: {len(ops)} calls, {granted} grants, {unknown} unknown outcomes")
    if expect_bad:
        note(f"{label}: checker found {len(tok)} token regressions, {len(mut)} double holds")
        for line in (tok + mut)[:6]:
            note(f"  {line}")
        return tok, mut
    check_true(f"{label}: fencing tokens never go backwards (globally and per key)", not tok,
               "\n".join(tok))
    check_true(f"{label}: no key held by two holders at once", not mut, "\n".join(mut))
    return tok, mut


def self_test():
    """The checkers flag what they must, on synthetic histories."""
    def op(kind, key, holder, inv, resp, result="ok", token=None, ttl=1000):
        return {"kind": kind, "key": key, "holder": holder, "token": token, "ttl": ttl,
                "inv": inv, "resp": resp, "result": result}
    good = [op("acquire", "a", "x", 0.0, 0.1, token=5),
            op("release", "a", "x", 0.5, 0.6),
            op("acquire", "a", "y", 0.55, 0.7, token=6),
            op("setnx", "b", "p", 0.0, 0.1, ttl=500),
            op("setnx", "b", "q", 0.6, 0.65, ttl=500),
            op("acquire", "c", "z", 0.05, 0.8, token=4)]  # concurrent with 5 and 6: allowed
    check_true("self-test: a correct history passes both checks",
               not check_tokens(good) and not check_mutex(good))
    backwards = good + [op("acquire", "c", "w", 2.0, 2.1, token=3)]
    check_true("self-test: a token below an earlier acknowledged one is caught",
               len(check_tokens(backwards)) >= 1)
    per_key = [op("acquire", "a", "x", 0.0, 0.1, token=9),
               op("acquire", "a", "y", 5.0, 5.1, token=9)]
    check_true("self-test: a repeated token on one key is caught (per key too)",
               any(b.startswith("key a") for b in check_tokens(per_key)))
    double = [op("acquire", "a", "x", 0.0, 0.1, token=5, ttl=1000),
              op("acquire", "a", "y", 0.8, 0.9, token=6, ttl=1000)]
    check_true("self-test: a grant to another holder inside an acknowledged lease is caught",
               len(check_mutex(double)) == 1)
    renewed = [op("acquire", "a", "x", 0.0, 0.1, token=5, ttl=1000),
               op("renew", "a", "x", 0.5, 0.6, token=5, ttl=1000),
               op("setnx", "a", "y", 1.3, 1.4, ttl=1000)]
    check_true("self-test: a grant inside a renewed lease is caught", len(check_mutex(renewed)) == 1)
    released = [op("acquire", "a", "x", 0.0, 0.1, token=5, ttl=1000),
                op("release", "a", "x", 0.3, 0.4, result="unknown", token=5),
                op("acquire", "a", "y", 0.35, 0.5, token=6)]
    check_true("self-test: a release ends the lease at its invocation, whatever its outcome",
               not check_mutex(released))
    unacked = [op("acquire", "a", "x", 0.0, 1.0, result="unknown", ttl=1000),
               op("acquire", "a", "y", 0.5, 0.6, token=6)]
    check_true("self-test: an unacknowledged grant holds nothing", not check_mutex(unacked))


# ---------------------------------------------------------------- scenarios


def node_directives(ack, to_write=1, max_lag=10, fsync="always"):
    return ["appendonly yes", f"appendfsync {fsync}", f"min-replicas-to-write {to_write}",
            f"min-replicas-max-lag {max_lag}", f"lock-replica-ack {ack}", "repl-timeout 5"]


def clients_followed(ops, since, label):
    after = [o for o in ops if o["inv"] > since and o["result"] == "ok" and
             o["kind"] in ("acquire", "setnx")]
    return check_true(f"{label}: clients follow the failover (grants after it: {len(after)})",
                      len(after) > 0)


def old_primary_is_replica(topo, node, new_port, label, timeout=40):
    """The restarted or woken old primary follows the primary the sentinels
    name: the one promoted, or a later one if Sentinel failed over again
    meanwhile (noted, with the sentinels' failover events). Returns the port
    it follows, or None."""
    def follows_current():
        current = topo.master_port()
        if current is None or current == node.port:
            return None
        role = direct(node.port, 2).execute_command("ROLE")
        return current if role[0] == "slave" and int(role[2]) == current else None
    followed = wait_for(follows_current, timeout, 0.2)
    what = f"{label}: the old primary is a replica of the new one (ROLE)"
    if not followed:
        not_ok(what, f"ROLE: {safe(lambda: direct(node.port).execute_command('ROLE'))}, "
                     f"sentinels name {safe(topo.master_port)}\n" +
                     "\n".join(topo.failover_events()))
        return None
    ok(what)
    if followed != new_port:
        note(f"{label}: Sentinel failed over again, from {new_port} to {followed}")
        for line in topo.failover_events():
            note(line)
    c = direct(node.port)
    try:
        got = c.execute_command("LOCK.ACQUIRE", "probe-old", "someone", 1000)
        not_ok(f"{label}: the old primary refuses writes with -READONLY", f"got {got!r}")
    except redis.ReadOnlyError as e:
        ok(f"{label}: the old primary refuses writes with -READONLY")
    except redis.ResponseError as e:
        check_true(f"{label}: the old primary refuses writes with -READONLY",
                   str(e).startswith("You can't write against a read only replica"), str(e))
    return followed


def replicaof_lines(node):
    with open(node.conf) as f:
        return [line.strip() for line in f if line.strip().lower().startswith(("replicaof", "slaveof"))]


def check_rewritten(topo, new_port, label):
    """Sentinel's CONFIG REWRITE ran on the promoted node: its config file no
    longer names a primary, so a restart keeps it primary."""
    new = topo.node_by_port(new_port)
    lines = wait_for(lambda: replicaof_lines(new) == [] or None, 10) is not None or \
        replicaof_lines(new) == []
    check_true(f"{label}: the promoted node's config file was rewritten without replicaof", lines,
               f"{new.conf}: {replicaof_lines(new)}")


def safe(fn):
    try:
        return fn()
    except Exception as e:  # diagnostics only
        return repr(e)


def wait_grants_after(history, since, timeout=30):
    return wait_for(lambda: any(o["inv"] > since and o["result"] == "ok" and
                                o["kind"] in ("acquire", "setnx") for o in history.snapshot()),
                    timeout, 0.1)


def scenario_a():
    label = "a (SIGKILL primary)"
    topo = Topology("a", node_directives("reservations"))
    load = None
    try:
        err = topo.start()
        if not check_true(f"{label}: topology up (3 lockd, 3 sentinels)", err is None, err):
            return
        history = History()
        load = Load(topo, history)
        load.start()
        wait_for(lambda: len(history.snapshot()) > 50, 20)
        old = topo.nodes[0]
        t_kill = time.monotonic()
        old.signal(signal.SIGKILL)
        new_port = topo.wait_failover(old.port)
        if not check_true(f"{label}: sentinel promotes a replica", new_port,
                          topo.sentinels[0].log_tail()):
            return
        note(f"{label}: promoted {new_port} {time.monotonic() - t_kill:.2f} s after the kill")
        wait_grants_after(history, t_kill)
        time.sleep(1.0)  # more load on the new primary before judging
        load.stop()
        ops = history.snapshot()
        clients_followed(ops, t_kill, label)
        run_checks(label, ops)
        check_rewritten(topo, new_port, label)
        # The old primary restarts from its own config file (which still says
        # primary): sentinel must turn it into a replica.
        old.start()
        old_primary_is_replica(topo, old, new_port, label)
    finally:
        if load:
            load.stop()
        topo.stop()


def scenario_b():
    label = "b (SIGSTOP primary past the failover)"
    topo = Topology("b", node_directives("reservations", max_lag=3))
    load = None
    try:
        err = topo.start()
        if not check_true(f"{label}: topology up", err is None, err):
            return
        history = History()
        load = Load(topo, history)
        load.start()
        wait_for(lambda: len(history.snapshot()) > 50, 20)
        old = topo.nodes[0]
        # A client connected straight to the old primary, as a client that
        # missed the switch would be; its command sits in the socket while
        # the primary is stopped.
        stale = socket.create_connection(("127.0.0.1", old.port), timeout=5)
        t_stop = time.monotonic()
        old.signal(signal.SIGSTOP)
        new_port = topo.wait_failover(old.port)
        if not check_true(f"{label}: sentinel promotes a replica while the primary is stopped",
                          new_port, topo.sentinels[0].log_tail()):
            return
        wait_grants_after(history, t_stop)
        new = direct(new_port)
        grant = wait_for(lambda: new.execute_command("LOCK.ACQUIRE", "probe-b", "new-holder", 20000),
                         30, 0.2)
        check_true(f"{label}: the new primary grants (after its lock-delay)", grant)
        stale.sendall(b"*4\r\n$12\r\nLOCK.ACQUIRE\r\n$7\r\nprobe-b\r\n$10\r\nold-holder\r\n"
                      b"$5\r\n20000\r\n")
        t_cont = time.monotonic()
        old.signal(signal.SIGCONT)
        reply = b""
        try:
            while not reply.endswith(b"\r\n"):
                chunk = stale.recv(4096)
                if not chunk:
                    break
                reply += chunk
        except OSError as e:
            reply += f"({e!r})".encode()
        stale.close()
        check_true(f"{label}: the woken old primary grants no key the new one holds",
                   not reply.startswith(b":"), f"old primary replied {reply!r}")
        time.sleep(1.0)
        load.stop()
        ops = history.snapshot()
        ops.append({"kind": "acquire", "key": "probe-b", "holder": "new-holder", "token": grant,
                    "ttl": 20000, "inv": t_cont - 0.001, "resp": t_cont - 0.001,
                    "result": "ok" if grant else "no"})
        clients_followed(ops, t_stop, label)
        run_checks(label, ops)
        check_rewritten(topo, new_port, label)
        primary = old_primary_is_replica(topo, old, new_port, label) or new_port
        want = f"replicaof 127.0.0.1 {primary}"
        check_true(f"{label}: the old primary's config file now says {want}",
                   wait_for(lambda: replicaof_lines(old) == [want], 10), f"{replicaof_lines(old)}")
    finally:
        if load:
            load.stop()
        topo.stop()


def redis_directives(to_write, max_lag):
    return ["appendonly no", 'save ""', f"min-replicas-to-write {to_write}",
            f"min-replicas-max-lag {max_lag}", "repl-timeout 5"]


def scenario_c(ack, to_write=1, expect_bad=False, kind="lockd"):
    if kind == "redis":
        label = f"c on redis-server (min-replicas-to-write {to_write}, min-replicas-max-lag 30)"
        directives = redis_directives(to_write, 30)
    else:
        label = f"c (replicas stopped, primary killed; lock-replica-ack {ack}" + \
                (f", min-replicas-to-write {to_write})" if to_write != 1 else ")")
        directives = node_directives(ack, to_write=to_write, max_lag=30, fsync="everysec")
    # down-after-milliseconds above the replicas' pause: replicas that
    # sentinels saw down are not promoted for a while, and that wait (up to
    # twice failover-timeout) would outlast the leases checked below.
    topo = Topology("c", directives, down_after=2500, kind=kind)
    locks = kind == "lockd"
    load = None
    try:
        err = topo.start()
        if not check_true(f"{label}: topology up", err is None, err) and not expect_bad:
            return
        if err:
            return
        history = History()
        load = Load(topo, history, threads=5, lock_commands=locks)
        load.start()
        wait_for(lambda: len(history.snapshot()) > 50, 20)
        master = topo.sentinel_client().master_for(MASTER, socket_timeout=5)

        def take(key, holder):
            if locks:
                return call(history, "acquire", key, holder, None, LONG_TTL_MS,
                            lambda: master.execute_command("LOCK.ACQUIRE", key, holder, LONG_TTL_MS))
            return call(history, "setnx", key, holder, None, LONG_TTL_MS,
                        lambda: master.execute_command("SET", key, holder, "NX", "PX", LONG_TTL_MS))
        # Leases long enough to outlive the failover, taken before the pause
        # (replicated) and during it (acknowledged only if the primary may go
        # on without its replicas). After the failover other holders ask for
        # the same keys: no one may get one while its lease runs.
        for i in range(3):
            take(f"long{i}", f"long-before-{i}")
        old = topo.nodes[0]
        replicas = topo.nodes[1:]
        for r in replicas:
            r.signal(signal.SIGSTOP)
        t_pause = time.monotonic()

        def take_during():
            # On loopback a stopped replica's socket buffer would still take
            # the stream in, and the replica would apply it once continued, as
            # if no write were lost: big values first fill that buffer, so that
            # what follows stays in the primary's memory and dies with it (as
            # on a real partition).
            for j in range(3):
                try:
                    master.execute_command("SET", f"filler{j}", "x" * (4 << 20), "PX", 2000)
                except redis.RedisError as e:
                    # Expected when the primary holds the reply for its
                    # replicas and dies meanwhile.
                    if expect_bad:
                        note(f"filler: {e}")
                    break
            for i in range(3, 6):
                take(f"long{i}", f"long-during-{i}")
        t = threading.Thread(target=take_during, daemon=True)
        t.start()
        wait_for(lambda: time.monotonic() - t_pause > 1.5, 3, 0.05)
        if expect_bad:
            t.join(timeout=15)  # runs without the safety: their leases are all asked for first
        t_kill = time.monotonic()
        old.signal(signal.SIGKILL)
        for r in replicas:
            r.signal(signal.SIGCONT)
        t.join(timeout=10)
        acked_during = sum(1 for o in history.snapshot()
                           if t_pause < o["resp"] < t_kill and o["result"] == "ok")
        note(f"{label}: {acked_during} calls acknowledged while the replicas were stopped")
        new_port = topo.wait_failover(old.port)
        if not check_true(f"{label}: sentinel promotes a replica", new_port,
                          topo.sentinels[0].log_tail()):
            return
        took = time.monotonic() - t_kill
        note(f"{label}: promoted {new_port} {took:.2f} s after the kill "
             f"(down-after-milliseconds {topo.down_after})")
        if ack == "always" and locks and not expect_bad:
            checked, bad = check_kept(history, new_port, t_kill)
            if checked == 0 and not bad and took * 1000 > LONG_TTL_MS - 3000:
                # Sentinel took so long (a split vote or an aborted attempt
                # waits 2 x failover-timeout before the next) that every lease
                # had ended: nothing was checked, so the run says nothing.
                for line in topo.failover_events(12):
                    note(line)
                return INCONCLUSIVE
            check_true(f"{label}: every acknowledged, unexpired lease is on the new primary "
                       f"({checked} checked)", checked > 0 and not bad,
                       "\n".join(bad) if bad else "no lease left to check")
        contenders = topo.sentinel_client().master_for(MASTER, socket_timeout=5)
        master = contenders
        for attempt in range(6):
            for i in range(6):
                take(f"long{i}", f"after-{i}-{attempt}")
            time.sleep(0.5)
        wait_grants_after(history, t_kill, 30)
        time.sleep(1.0)
        load.stop()
        ops = history.snapshot()
        if not expect_bad:
            clients_followed(ops, t_kill, label)
        return run_checks(label, ops, expect_bad)
    finally:
        if load:
            load.stop()
        topo.stop()


def main():
    if not os.access(SERVER, os.X_OK):
        not_ok(f"lockd server binary at {SERVER}", "build it first")
        return 1
    if shutil.which(SENTINEL) is None:
        not_ok(f"{SENTINEL} is installed", "scripts/install-deps.sh installs it")
        return 1
    self_test()
    only = os.environ.get("LOCKD_SENTINEL_ONLY", "a,b,c-reservations,c-always").split(",")
    t0 = time.monotonic()
    if "a" in only:
        scenario_a()
    if "b" in only:
        scenario_b()
    if "c-reservations" in only:
        scenario_c("reservations")
    if "c-always" in only:
        for attempt in range(2):
            if scenario_c("always") is not INCONCLUSIVE:
                break
            if attempt == 0:
                note("c (lock-replica-ack always): the failover outlasted every lease; once more")
            else:
                not_ok("c (lock-replica-ack always): a failover within the leases' "
                       f"{LONG_TTL_MS} ms, in two tries")
    if os.environ.get("LOCKD_SENTINEL_UNSAFE") == "1":
        # The same scenario with the safety off, and on redis-server, where
        # Sentinel is known to hand one lock to two clients: what the
        # checker finds there is reported, not judged.
        for args in ({"to_write": 0}, {"to_write": 1, "kind": "redis"}):
            tok, mut = scenario_c("reservations", expect_bad=True, **args) or ([], [])
            note(f"{args}: the checker found {len(tok)} token regressions and "
                 f"{len(mut)} double holds")
    note(f"suite took {time.monotonic() - t0:.1f} s")
    return 1 if tap.failures else 0


if __name__ == "__main__":
    sys.exit(main())
