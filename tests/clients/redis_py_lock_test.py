#!/usr/bin/python3
# redis-py's Lock (Debian's python3-redis, in /usr/lib/python3/dist-packages:
# run it with /usr/bin/python3) end to end against one server: acquire,
# blocking acquire (released or expired holder), extend in both modes,
# reacquire, release, LockNotOwnedError once the lock is lost, mutual
# exclusion across threads, and on lockd, LOCK.FENCE tokens that rise with
# every acquisition. The library does what it does in production: SET NX PX,
# then EVALSHA of its scripts (SCRIPT LOAD on NOSCRIPT).
#
# Usage: /usr/bin/python3 tests/clients/redis_py_lock_test.py --port P
# Prints "ok N - what" / "not ok N - what" (scripts/run-tests.sh counts them)
# and exits non-zero if any check failed.
import argparse
import sys
import threading
import time
import traceback

try:
    import redis
    from redis.exceptions import LockError, LockNotOwnedError
except ImportError:
    print("not ok 1 - import redis (run with /usr/bin/python3; Debian's python3-redis)")
    sys.exit(1)


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
            if diag:
                print("#   %s" % diag)
        sys.stdout.flush()

    def skip(self, desc, why):
        self.n += 1
        print("ok %d # skip %s: %s" % (self.n, desc, why))

    def run(self, desc, fn):
        """Runs fn(); it returns True, or (False, diagnostic); exceptions fail."""
        try:
            res = fn()
        except Exception as e:
            where = traceback.extract_tb(e.__traceback__)[-1]
            self.check(desc, False, "%s: %s (at %s:%d)" % (
                type(e).__name__, str(e)[:200], where.filename.rsplit("/", 1)[-1], where.lineno))
            return
        if res is True:
            self.check(desc, True)
        else:
            self.check(desc, False, res[1] if isinstance(res, tuple) else repr(res))


def expect_raises(exc, fn):
    try:
        fn()
    except exc:
        return True
    except Exception as e:
        return False, "raised %s: %s instead of %s" % (type(e).__name__, e, exc.__name__)
    return False, "did not raise %s" % exc.__name__


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=25)
    opts = ap.parse_args()

    r = redis.Redis(host=opts.host, port=opts.port, socket_timeout=15)
    report = Report()
    prefix = "pylock:%d:" % int(time.time() * 1000)

    def name(s):
        return prefix + s

    try:
        info = r.info("server")
    except Exception as e:
        report.check("the server answers INFO server", False, str(e))
        print("# %d checks, %d failed" % (report.n, report.failed))
        return 1
    lockd = "lockd_version" in info
    print("# server: %s" % ("lockd " + str(info.get("lockd_version")) if lockd
                            else "redis " + str(info.get("redis_version"))))

    # ---- acquire / release ----
    def t_acquire():
        lk = r.lock(name("a"), timeout=30)
        if not lk.acquire(blocking=False):
            return False, "acquire of a free lock returned False"
        if r.get(name("a")) != lk.local.token:
            return False, "GET shows %r, not the token %r" % (r.get(name("a")), lk.local.token)
        pttl = r.pttl(name("a"))
        if not 0 < pttl <= 30000:
            return False, "PTTL %r is not within the 30 s timeout" % pttl
        if not (lk.locked() and lk.owned()):
            return False, "locked()/owned() are not both True"
        lk.release()
        return True
    report.run("acquire sets the key to the token with the timeout; release", t_acquire)

    def t_release_frees():
        lk = r.lock(name("b"), timeout=30)
        lk.acquire(blocking=False)
        lk.release()
        if r.exists(name("b")) != 0:
            return False, "the key still exists after release"
        return lk.locked() is False or (False, "locked() is still True")
    report.run("release deletes the key", t_release_frees)

    def t_contended():
        a = r.lock(name("c"), timeout=30)
        b = r.lock(name("c"), timeout=30)
        if not a.acquire(blocking=False):
            return False, "first acquire failed"
        if b.acquire(blocking=False):
            return False, "second acquire of a held lock succeeded"
        if b.acquire(blocking=True, blocking_timeout=0.3):
            return False, "blocking acquire with a 0.3 s limit succeeded while held"
        a.release()
        if not b.acquire(blocking=False):
            return False, "acquire after the release failed"
        b.release()
        return True
    report.run("a held lock refuses a second acquirer, then serves it after release", t_contended)

    def t_context_manager():
        with r.lock(name("cm"), timeout=30, blocking_timeout=1) as lk:
            inside = lk.owned()
        return (inside and r.exists(name("cm")) == 0) or (False, "owned inside %r, exists after %r" % (
            inside, r.exists(name("cm"))))
    report.run("the context manager acquires and releases", t_context_manager)

    # ---- blocking acquire ----
    def t_block_release():
        # The release comes from a timer thread: the token must not be thread-local.
        holder = r.lock(name("d"), timeout=30, thread_local=False)
        holder.acquire(blocking=False)
        timer = threading.Timer(0.3, holder.release)
        timer.start()
        waiter = r.lock(name("d"), timeout=30, sleep=0.02)
        t0 = time.monotonic()
        got = waiter.acquire(blocking=True, blocking_timeout=10)
        took = time.monotonic() - t0
        timer.join()
        if not got:
            return False, "the waiter was not granted within 10 s"
        if took < 0.2:
            return False, "granted after %.3f s, before the holder released" % took
        waiter.release()
        return True
    report.run("blocking acquire is granted once the holder releases", t_block_release)

    def t_block_expire():
        holder = r.lock(name("e"), timeout=0.4)
        holder.acquire(blocking=False)
        waiter = r.lock(name("e"), timeout=30, sleep=0.02)
        t0 = time.monotonic()
        got = waiter.acquire(blocking=True, blocking_timeout=10)
        took = time.monotonic() - t0
        if not got:
            return False, "the waiter was not granted within 10 s"
        if took < 0.25:
            return False, "granted after %.3f s, before the 0.4 s lease expired" % took
        waiter.release()
        return True
    report.run("blocking acquire is granted once the holder's lease expires", t_block_expire)

    # ---- extend / reacquire ----
    def t_extend_add():
        lk = r.lock(name("f"), timeout=10)
        lk.acquire(blocking=False)
        lk.extend(20)
        pttl = r.pttl(name("f"))
        lk.release()
        return 25000 < pttl <= 30000 or (False, "PTTL after extend(20) of a 10 s lock is %r" % pttl)
    report.run("extend adds to the remaining TTL", t_extend_add)

    def t_extend_replace():
        lk = r.lock(name("g"), timeout=30)
        lk.acquire(blocking=False)
        lk.extend(5, replace_ttl=True)
        pttl = r.pttl(name("g"))
        lk.release()
        return 0 < pttl <= 5000 or (False, "PTTL after extend(5, replace_ttl=True) is %r" % pttl)
    report.run("extend with replace_ttl sets the TTL", t_extend_replace)

    def t_reacquire():
        lk = r.lock(name("h"), timeout=30)
        lk.acquire(blocking=False)
        lk.extend(5, replace_ttl=True)
        lk.reacquire()
        pttl = r.pttl(name("h"))
        lk.release()
        return 25000 < pttl <= 30000 or (False, "PTTL after reacquire is %r" % pttl)
    report.run("reacquire resets the TTL to the timeout", t_reacquire)

    # ---- lost locks ----
    def t_release_expired():
        lk = r.lock(name("i"), timeout=0.1)
        lk.acquire(blocking=False)
        time.sleep(0.3)
        return expect_raises(LockNotOwnedError, lk.release)
    report.run("release after expiry raises LockNotOwnedError", t_release_expired)

    def t_extend_expired():
        lk = r.lock(name("j"), timeout=0.1)
        lk.acquire(blocking=False)
        time.sleep(0.3)
        return expect_raises(LockNotOwnedError, lambda: lk.extend(10))
    report.run("extend after expiry raises LockNotOwnedError", t_extend_expired)

    def t_reacquire_expired():
        lk = r.lock(name("j2"), timeout=0.1)
        lk.acquire(blocking=False)
        time.sleep(0.3)
        return expect_raises(LockNotOwnedError, lk.reacquire)
    report.run("reacquire after expiry raises LockNotOwnedError", t_reacquire_expired)

    def t_other_token():
        owner = r.lock(name("k"), timeout=30)
        owner.acquire(blocking=False)
        # Another process believes it holds the lock (for instance, it held it
        # before an expiry): its token is not the key's.
        intruder = r.lock(name("k"), timeout=30, thread_local=False)
        intruder.local.token = b"not-the-owner"
        res = expect_raises(LockNotOwnedError, lambda: intruder.extend(10))
        if res is not True:
            return False, "extend: " + res[1]
        res = expect_raises(LockNotOwnedError, intruder.release)
        if res is not True:
            return False, "release: " + res[1]
        if r.get(name("k")) != owner.local.token:
            return False, "the owner's key changed: %r" % r.get(name("k"))
        owner.release()
        return True
    report.run("release and extend with another token raise LockNotOwnedError and leave the key",
               t_other_token)

    def t_expired_then_taken():
        a = r.lock(name("l"), timeout=0.1)
        a.acquire(blocking=False)
        time.sleep(0.3)
        b = r.lock(name("l"), timeout=30)
        if not b.acquire(blocking=False):
            return False, "the expired lock could not be taken"
        res = expect_raises(LockNotOwnedError, a.release)
        if res is not True:
            return res
        ok = r.get(name("l")) == b.local.token
        b.release()
        return ok or (False, "the first holder's release removed the new holder's key")
    report.run("a lock taken after expiry survives the old holder's release", t_expired_then_taken)

    def t_unlocked_errors():
        lk = r.lock(name("m"), timeout=30)
        return expect_raises(LockError, lk.release)
    report.run("release of a lock never acquired raises LockError", t_unlocked_errors)

    # ---- mutual exclusion ----
    def t_mutex():
        counter = {"value": 0, "inside": 0, "max_inside": 0}
        errors = []

        def worker():
            client = redis.Redis(host=opts.host, port=opts.port, socket_timeout=15)
            try:
                for _ in range(opts.rounds):
                    with client.lock(name("counter"), timeout=10, sleep=0.001, blocking_timeout=60):
                        counter["inside"] += 1
                        counter["max_inside"] = max(counter["max_inside"], counter["inside"])
                        v = counter["value"]
                        time.sleep(0.0005)  # let another thread run between read and write
                        counter["value"] = v + 1
                        counter["inside"] -= 1
            except Exception as e:
                errors.append("%s: %s" % (type(e).__name__, e))
            finally:
                client.close()

        threads = [threading.Thread(target=worker) for _ in range(opts.threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        want = opts.threads * opts.rounds
        if errors:
            return False, "; ".join(errors[:3])
        if counter["value"] != want or counter["max_inside"] != 1:
            return False, "counter %d of %d, at most %d threads inside at once" % (
                counter["value"], want, counter["max_inside"])
        return True
    report.run("%d threads x %d increments under the lock lose no update" % (
        opts.threads, opts.rounds), t_mutex)

    # ---- fencing tokens (lockd) ----
    fence_desc = "LOCK.FENCE gives a token that strictly increases with each acquisition"
    if lockd:
        def t_fence():
            tokens = []
            for i in range(5):
                lk = r.lock(name("fence"), timeout=30)
                if not lk.acquire(blocking=False):
                    return False, "acquire %d failed" % i
                tok = r.execute_command("LOCK.FENCE", name("fence"))
                lk.release()
                if not isinstance(tok, int):
                    return False, "LOCK.FENCE answered %r" % tok
                tokens.append(tok)
            if any(b <= a for a, b in zip(tokens, tokens[1:])):
                return False, "tokens %r" % tokens
            if r.execute_command("LOCK.FENCE", name("fence")) is not None:
                return False, "LOCK.FENCE of the released lock is not nil"
            return True
        report.run(fence_desc, t_fence)
    else:
        report.skip(fence_desc, "the server is not lockd")

    print("# %d checks, %d failed" % (report.n, report.failed))
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
