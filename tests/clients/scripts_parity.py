#!/usr/bin/python3
# Script parity: sends the exact Lua scripts that Redis lock clients use
# (tests/clients/redlock_scripts/, see its README) to two servers, A and B,
# through EVAL and EVALSHA, on the same key states (free, held by us, held by
# another, expired), in RESP2 and after HELLO 3, and compares the raw replies
# byte for byte, then the key each script left behind (GET, and PTTL rounded
# to the second). It also replays each library's call sequence around its
# scripts (EVALSHA -> NOSCRIPT -> EVAL or SCRIPT LOAD -> EVALSHA).
#
# Usage: /usr/bin/python3 tests/clients/scripts_parity.py --port-a A --port-b B
# Prints "ok N - what" / "not ok N - what" per comparison (scripts/run-tests.sh
# counts them) and exits non-zero if any failed. Run it against redis-server on
# both ports to check the test itself.
import argparse
import hashlib
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resp_raw import RawConnection, parse  # noqa: E402

SCRIPT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "redlock_scripts")
OURS = "ours-6f1d2c0a9b8e4f7d"
THEIRS = "theirs-0a9b8e4f7d6f1d2c"
TTL = 30000

# file, SHA1 of its bytes (what EVALSHA names it by), number of keys, the ARGV
# variants the library sends, whether the reply holds a TTL (compared rounded),
# and whether the library sends it with several keys (Redlock's multi-resource
# locks).
SCRIPTS = [
    ("redispy_release.lua", "c3f8721cbb97f72bc19e972846bd7aaf91901658", 1, [[OURS]], False, False),
    ("redispy_extend.lua", "a4e8783852e6b949f9ef3a97212805108459a890", 1,
     [[OURS, 10000, "0"], [OURS, 10000, "1"]], False, False),
    ("redispy_reacquire.lua", "1cac51482acf5858da00f6d685d68f886cd6b6b2", 1, [[OURS, TTL]], False, False),
    ("redlock4_acquire.lua", "e5a322e2634ef59a516e8ea150cb085afafee684", 1, [[OURS, TTL]], False, True),
    ("redlock4_extend.lua", "ce46f80993d5dac20dd066eb301a4e37994bdbed", 1, [[OURS, TTL]], False, True),
    ("redlock4_release.lua", "0f0f23b9048b36752b5be114f357ba083449f908", 1, [[OURS]], False, True),
    ("redlock5_acquire.lua", "96da70f7716f27d278a5218544df37fd8b0a5e4c", 1, [[OURS, TTL]], False, True),
    ("redlock5_extend.lua", "aed6f382e410db8ba7926d4e5e9aab410bf2a78a", 1, [[OURS, TTL]], False, True),
    ("redlock5_release.lua", "e4612211c9f8f51c257e26e056b0a654b3187242", 1, [[OURS]], False, True),
    ("redsync_delete.lua", "e950836ed1e694540c503ef9972b8de518044d3b", 1, [[OURS]], False, False),
    ("redsync_touch.lua", "d75bb8b5bd13532ddedd17762e772346e39b321e", 1, [[OURS, 8000]], False, False),
    ("redsync_touch_setnx.lua", "b6b55c439e02c6f52ffb8be7ec8c0d0ac816ea79", 1, [[OURS, 8000]], False,
     False),
    ("redlockrb_lock.lua", "ceb2b2062e40c51a2b3963fd078bc71f11bdc65c", 1,
     [[OURS, TTL, "yes"], [OURS, TTL, "no"]], False, False),
    ("redlockrb_unlock.lua", "8e4905cee18e7c3188d10f2b8b170e403baed34f", 1, [[OURS]], False, False),
    ("redlockrb_pttl.lua", "78d2ca48a6dc9ef6892059792a3a0c5237733d64", 1, [[]], True, False),
]

STATES = ["free", "ours", "theirs", "expired"]
# Key pairs for the multi-resource cases: each key's state.
PAIR_STATES = [("free", "free"), ("free", "theirs"), ("ours", "ours"), ("ours", "expired")]


class Pair:
    """The two servers under comparison, driven in lock step."""

    def __init__(self, host, port_a, port_b):
        self.a = RawConnection(host, port_a)
        self.b = RawConnection(host, port_b)

    def both(self, *args):
        return self.a.call(*args), self.b.call(*args)

    def close(self):
        self.a.close()
        self.b.close()


class Report:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def check(self, desc, ok, diag=None):
        self.n += 1
        if ok:
            print("ok %d - %s" % (self.n, desc))
        else:
            self.failed += 1
            print("not ok %d - %s" % (self.n, desc))
            for line in (diag or []):
                print("#   %s" % line)
        sys.stdout.flush()


TTL_INT = re.compile(rb":(\d{3,})\r\n")


def show(raw):
    """A reply for a diagnostic line, cut to a readable length."""
    r = repr(raw)
    return r if len(r) <= 160 else r[:157] + "..."


def round_ttls(raw):
    """Integers of 100 and more in a reply are TTLs here: rounded to seconds."""
    return TTL_INT.sub(lambda m: b":~%ds\r\n" % round(int(m.group(1)) / 1000), raw)


def key_view(conn, key):
    """What a script left behind: the value and the TTL rounded to seconds."""
    value = conn.call("GET", key)
    pttl = parse(conn.call("PTTL", key))
    if isinstance(pttl, int) and pttl >= 0:
        pttl = "~%ds" % round(pttl / 1000)
    return value, pttl


def set_state(pair, key, state):
    """Puts key into state on both servers; returns the setup replies."""
    replies = [pair.both("DEL", key)]
    if state == "ours":
        replies.append(pair.both("SET", key, OURS, "PX", TTL))
    elif state == "theirs":
        replies.append(pair.both("SET", key, THEIRS, "PX", TTL))
    elif state == "expired":
        replies.append(pair.both("SET", key, OURS, "PX", 1))
    return replies


def wait_expired(states):
    if "expired" in states:
        time.sleep(0.05)


def run_case(pair, report, proto, name, body, sha, keys, states, argv, via, ttl_reply):
    setup = []
    for key, state in zip(keys, states):
        setup += set_state(pair, key, state)
    wait_expired(states)
    if via == "EVAL":
        cmd = ["EVAL", body, len(keys)] + keys + argv
    else:
        cmd = ["EVALSHA", sha, len(keys)] + keys + argv
    ra, rb = pair.both(*cmd)
    if ttl_reply:
        ra, rb = round_ttls(ra), round_ttls(rb)
    views = [(key_view(pair.a, k), key_view(pair.b, k)) for k in keys]
    shown_args = " ".join(str(x) for x in argv).replace(OURS, "<ours>")
    desc = "RESP%d %s %s [%s] on %s key%s" % (
        proto, via, name, shown_args, "/".join(states), "s" if len(keys) > 1 else "")
    diag = []
    if ra != rb:
        diag.append("reply A %s, B %s" % (show(ra), show(rb)))
    for (k, (va, vb)) in zip(keys, views):
        if va != vb:
            diag.append("%s afterwards: A %r, B %r" % (k, va, vb))
    for sa, sb in setup:
        if sa != sb:
            diag.append("setup replies differ: A %s, B %s" % (show(sa), show(sb)))
            break
    report.check(desc, not diag, diag)


def compare(report, desc, ra, rb, extra_ok=True, extra_diag=None):
    diag = []
    if ra != rb:
        diag.append("A %s, B %s" % (show(ra), show(rb)))
    if not extra_ok:
        diag.append(extra_diag)
    report.check(desc, not diag, diag)


def library_sequences(pair, report, proto, bodies):
    """Each library's calls around its scripts, from an empty script cache."""
    k = "parity:seq:%d" % proto
    sha = {f: s for f, s, *_ in SCRIPTS}
    # redis-py Lock: SET NX PX to acquire; release by EVALSHA, and on NOSCRIPT
    # SCRIPT LOAD then EVALSHA again.
    pair.both("SCRIPT", "FLUSH")
    pair.both("DEL", k)
    compare(report, "RESP%d redis-py: SET NX PX acquires a free key" % proto,
            *pair.both("SET", k, OURS, "NX", "PX", TTL))
    compare(report, "RESP%d redis-py: SET NX PX on a held key is nil" % proto,
            *pair.both("SET", k, THEIRS, "NX", "PX", TTL))
    ra, rb = pair.both("EVALSHA", sha["redispy_release.lua"], 1, k, OURS)
    compare(report, "RESP%d redis-py: EVALSHA before SCRIPT LOAD is NOSCRIPT" % proto, ra, rb,
            ra.startswith(b"-NOSCRIPT"), "expected a NOSCRIPT error, got %s" % show(ra))
    ra, rb = pair.both("SCRIPT", "LOAD", bodies["redispy_release.lua"])
    want = b"$40\r\n" + sha["redispy_release.lua"].encode() + b"\r\n"
    compare(report, "RESP%d redis-py: SCRIPT LOAD answers the script's SHA1" % proto, ra, rb,
            ra == want, "expected %r" % want)
    compare(report, "RESP%d redis-py: EVALSHA after SCRIPT LOAD releases" % proto,
            *pair.both("EVALSHA", sha["redispy_release.lua"], 1, k, OURS))
    compare(report, "RESP%d redis-py: the released key is gone" % proto, *pair.both("EXISTS", k))

    # node-redlock (v4 and v5 alike): EVALSHA, on NOSCRIPT the same call as EVAL,
    # which caches the script, so the next EVALSHA runs it.
    for lib in ("redlock4", "redlock5"):
        pair.both("SCRIPT", "FLUSH")
        pair.both("DEL", k)
        acq = lib + "_acquire.lua"
        ra, rb = pair.both("EVALSHA", sha[acq], 1, k, OURS, TTL)
        compare(report, "RESP%d %s: EVALSHA of acquire on an empty cache is NOSCRIPT" % (proto, lib),
                ra, rb, ra.startswith(b"-NOSCRIPT"), "expected a NOSCRIPT error, got %s" % show(ra))
        compare(report, "RESP%d %s: EVAL of acquire grants the free key" % (proto, lib),
                *pair.both("EVAL", bodies[acq], 1, k, OURS, TTL))
        compare(report, "RESP%d %s: EVAL cached it: SCRIPT EXISTS says 1" % (proto, lib),
                *pair.both("SCRIPT", "EXISTS", sha[acq], sha[lib + "_release.lua"]))
        compare(report, "RESP%d %s: EVALSHA of acquire again on the held key is 0" % (proto, lib),
                *pair.both("EVALSHA", sha[acq], 1, k, THEIRS, TTL))
        compare(report, "RESP%d %s: EVAL of release frees it" % (proto, lib),
                *pair.both("EVAL", bodies[lib + "_release.lua"], 1, k, OURS))

    # go-redsync: SET NX with EX (go-redis sends whole seconds as EX) or PX,
    # then EVALSHA and EVAL on NOSCRIPT.
    pair.both("SCRIPT", "FLUSH")
    pair.both("DEL", k)
    compare(report, "RESP%d redsync: SET NX EX acquires a free key" % proto,
            *pair.both("SET", k, OURS, "EX", 8, "NX"))
    va, vb = key_view(pair.a, k), key_view(pair.b, k)
    compare(report, "RESP%d redsync: the key holds the value with an 8 s TTL" % proto, va, vb)
    compare(report, "RESP%d redsync: SET PX NX on the held key is nil" % proto,
            *pair.both("SET", k, THEIRS, "PX", 8000, "NX"))
    ra, rb = pair.both("EVALSHA", sha["redsync_delete.lua"], 1, k, OURS)
    compare(report, "RESP%d redsync: EVALSHA of delete on an empty cache is NOSCRIPT" % proto,
            ra, rb, ra.startswith(b"-NOSCRIPT"), "expected a NOSCRIPT error, got %s" % show(ra))
    compare(report, "RESP%d redsync: EVAL of delete frees our key" % proto,
            *pair.both("EVAL", bodies["redsync_delete.lua"], 1, k, OURS))
    compare(report, "RESP%d redsync: EVALSHA of delete on the free key is -1" % proto,
            *pair.both("EVALSHA", sha["redsync_delete.lua"], 1, k, OURS))

    # redlock-rb: EVALSHA; on NOSCRIPT it loads its three scripts and retries.
    pair.both("SCRIPT", "FLUSH")
    pair.both("DEL", k)
    ra, rb = pair.both("EVALSHA", sha["redlockrb_lock.lua"], 1, k, OURS, TTL, "yes")
    compare(report, "RESP%d redlock-rb: EVALSHA of lock on an empty cache is NOSCRIPT" % proto,
            ra, rb, ra.startswith(b"-NOSCRIPT"), "expected a NOSCRIPT error, got %s" % show(ra))
    for f in ("redlockrb_unlock.lua", "redlockrb_lock.lua", "redlockrb_pttl.lua"):
        compare(report, "RESP%d redlock-rb: SCRIPT LOAD %s" % (proto, f),
                *pair.both("SCRIPT", "LOAD", bodies[f]))
    compare(report, "RESP%d redlock-rb: EVALSHA of lock grants the free key (+OK)" % proto,
            *pair.both("EVALSHA", sha["redlockrb_lock.lua"], 1, k, OURS, TTL, "yes"))
    compare(report, "RESP%d redlock-rb: EVALSHA of unlock frees it" % proto,
            *pair.both("EVALSHA", sha["redlockrb_unlock.lua"], 1, k, OURS))


def run_proto(pair, report, proto, bodies, only):
    if proto == 3:
        ra, rb = pair.both("HELLO", "3")
        # The HELLO map names each server and its version, so only its shape is compared.
        ok = ra.startswith(b"%") and rb.startswith(b"%")
        report.check("HELLO 3 switches both servers to RESP3", ok,
                     ["A %r" % ra[:80], "B %r" % rb[:80]])
    compare(report, "RESP%d SCRIPT FLUSH" % proto, *pair.both("SCRIPT", "FLUSH"))
    for f, sha, nkeys, variants, ttl_reply, multi in SCRIPTS:
        if only and not any(o in f for o in only):
            continue
        name = f[:-4]
        ra, rb = pair.both("EVALSHA", sha, nkeys, "parity:k", OURS)
        compare(report, "RESP%d EVALSHA %s before it is known is NOSCRIPT" % (proto, name), ra, rb,
                ra.startswith(b"-NOSCRIPT"), "expected a NOSCRIPT error, got %s" % show(ra))
        for via in ("EVAL", "EVALSHA"):
            for argv in variants:
                for state in STATES:
                    run_case(pair, report, proto, name, bodies[f], sha,
                             ["parity:%s:%d" % (name, proto)], [state], argv, via, ttl_reply)
                if multi:
                    for states in PAIR_STATES:
                        keys = ["parity:%s:%d:a" % (name, proto), "parity:%s:%d:b" % (name, proto)]
                        run_case(pair, report, proto, name, bodies[f], sha, keys, list(states),
                                 argv, via, ttl_reply)
        compare(report, "RESP%d SCRIPT EXISTS %s after EVAL" % (proto, name),
                *pair.both("SCRIPT", "EXISTS", sha, "0" * 40))
    library_sequences(pair, report, proto, bodies)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port-a", type=int, required=True)
    ap.add_argument("--port-b", type=int, required=True)
    ap.add_argument("--proto", default="2,3", help="RESP versions to run: 2, 3 or 2,3")
    ap.add_argument("--only", default="", help="comma-separated substrings of script file names")
    opts = ap.parse_args()
    only = [o for o in opts.only.split(",") if o]

    report = Report()
    bodies = {}
    for f, sha, *_ in SCRIPTS:
        with open(os.path.join(SCRIPT_DIR, f), "rb") as fh:
            bodies[f] = fh.read()
        got = hashlib.sha1(bodies[f]).hexdigest()
        report.check("%s has SHA1 %s" % (f, sha), got == sha, ["the file's SHA1 is %s" % got])

    for proto in [int(p) for p in opts.proto.split(",")]:
        try:
            pair = Pair(opts.host, opts.port_a, opts.port_b)
        except OSError as e:
            report.check("RESP%d connect to both servers" % proto, False, [str(e)])
            continue
        try:
            run_proto(pair, report, proto, bodies, only)
        except Exception as e:  # a broken connection ends this protocol's run, not the suite
            report.check("RESP%d run completes" % proto, False, ["%s: %s" % (type(e).__name__, e)])
        finally:
            pair.close()
    print("# %d checks, %d failed" % (report.n, report.failed))
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
