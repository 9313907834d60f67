#!/usr/bin/env python3
"""Failover time of a lockd primary under redis-sentinel, over a few rounds
(medians): three lockd nodes and three sentinels (quorum 2) on loopback, as
scripts/sentinel-tests.py sets them up. Each round SIGKILLs the primary while
a client (through redis.sentinel.Sentinel) takes fresh keys, and measures:

  - kill -> promotion: until a replica reports role master (ROLE, polled);
  - kill -> first grant: until the response to the client's first grant
    asked for after the kill
    (sentinel detection, election, promotion, the client's rediscovery and
    the promoted node's restart lock-delay);
  - promotion -> grant of a held key: a key held (ttl stated) when the
    primary died, polled on the new primary: the restart lock-delay the
    promotion added, next to when that lease would have run out anyway.

Usage: failover_bench.py [rounds]. LOCKD_SERVER names the server binary."""

import importlib.util
import os
import statistics
import sys
import threading
import time

sys.dont_write_bytecode = True  # no scripts/__pycache__ from the import below
HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("sentinel_tests",
                                              os.path.join(HERE, "sentinel-tests.py"))
st = importlib.util.module_from_spec(spec)
spec.loader.exec_module(st)
redis = st.redis

HELD_TTL_MS = 3000
LOAD_TTL_MS = 1000


def one_round(i):
    topo = st.Topology(f"bench{i}", st.node_directives("reservations"))
    stop = threading.Event()
    grants = []  # (invocation, response) of the client's grants
    try:
        err = topo.start()
        if err:
            print(f"# round {i}: topology did not start: {err}", file=sys.stderr)
            return None

        def client():
            r = topo.sentinel_client().master_for(st.MASTER, socket_timeout=1,
                                                  socket_connect_timeout=0.5)
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    # Counted from its invocation: a reply from the old
                    # primary may arrive just after the kill.
                    inv = time.monotonic()
                    if isinstance(r.execute_command("LOCK.ACQUIRE", f"fresh:{n}", "bench",
                                                    LOAD_TTL_MS), int):
                        grants.append((inv, time.monotonic()))
                except (redis.RedisError, OSError):
                    time.sleep(0.01)
        t = threading.Thread(target=client, daemon=True)
        t.start()
        st.wait_for(lambda: len(grants) > 20, 20)
        old = topo.nodes[0]
        c = st.direct(old.port)
        c.execute_command("LOCK.ACQUIRE", "held", "old-holder", HELD_TTL_MS)
        t_held = time.monotonic()
        t_kill = time.monotonic()
        old.signal(st.signal.SIGKILL)

        def promoted():
            for node in topo.nodes[1:]:
                try:
                    if node.role() == "master":
                        return node
                except (redis.RedisError, OSError):
                    pass
            return None
        new = st.wait_for(promoted, 30, 0.01)
        t_promo = time.monotonic()
        if new is None:
            print(f"# round {i}: no promotion", file=sys.stderr)
            return None
        nc = st.direct(new.port)

        def held_granted():
            try:
                return isinstance(nc.execute_command("LOCK.ACQUIRE", "held", "new-holder", 1000), int)
            except redis.ResponseError:
                return False
        st.wait_for(held_granted, 30, 0.01)
        t_held_grant = time.monotonic()
        st.wait_for(lambda: any(inv > t_kill for inv, _ in grants), 30, 0.01)
        stop.set()
        t.join(timeout=5)
        first = min((resp for inv, resp in grants if inv > t_kill), default=None)
        if first is None:
            return None
        return {"promotion": t_promo - t_kill, "first_grant": first - t_kill,
                "held_delay": t_held_grant - t_promo,
                "held_expiry_after_promo": t_held + HELD_TTL_MS / 1000 - t_promo}
    finally:
        stop.set()
        topo.stop()


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    results = [r for r in (one_round(i) for i in range(rounds)) if r]
    if not results:
        print("failover: no round completed")
        return 1

    def med(name):
        return statistics.median(r[name] for r in results) * 1000
    print(f"failover: {len(results)} round(s), down-after-milliseconds {st.DOWN_AFTER_MS}, "
          f"failover-timeout {st.FAILOVER_TIMEOUT_MS}, quorum 2 of 3 sentinels")
    print(f"  kill -> replica promoted (role master)         median {med('promotion'):8.0f} ms")
    print(f"  kill -> first grant via Sentinel (fresh keys)  median {med('first_grant'):8.0f} ms")
    print(f"  promotion -> grant of a key held at the kill   median {med('held_delay'):8.0f} ms "
          f"(lease ttl {HELD_TTL_MS} ms; it would have run out {med('held_expiry_after_promo'):.0f} ms "
          f"after the promotion)")
    for i, r in enumerate(results):
        print(f"  round {i}: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in r.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
