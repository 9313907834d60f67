#!/usr/bin/env python3
"""TLS on lockd's listeners, judged by real clients: redis-cli --tls, Python's
ssl module speaking RESP, curl --cacert on the HTTP listener with http-tls,
and openssl s_client; then replication over TLS between lockd nodes, watched
and failed over by two redis-sentinel processes that speak only TLS
(tls-replication yes, port 0), and CONFIG SET tls-port moving the listener
under redis-cli. Certificates (a CA, a server certificate, a client
certificate, an expired one, one from another CA) are made here with the
openssl tool. Prints one line per check, "ok <n> - <what>" or "not ok <n> -
<what>" (scripts/run-tests.sh counts them) and exits non-zero if any check
failed. Every wait is bounded."""

import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

import tap  # noqa: E402  (scripts/tap.py: one line per check)
from tap import ok, not_ok, check_equal, free_port  # noqa: E402

SERVER = os.environ.get("LOCKD_SERVER", "build/lockd-server")
def make_certs(d):
    k = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    script = f"""
set -e
cd {d}
openssl req -x509 {k} -keyout ca.key -out ca.crt -days 30 -subj /CN=lockd-test-ca
openssl req -x509 {k} -keyout other-ca.key -out other-ca.crt -days 30 -subj /CN=other-ca
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > san.ext
sign() {{
  openssl req {k} -keyout $1.key -out $1.csr -subj /CN=$1
  openssl x509 -req -in $1.csr -CA $2.crt -CAkey $2.key -CAcreateserial -out $1.crt -days $3 $4
}}
sign server ca 30 '-extfile san.ext'
sign client ca 30 ''
sign expired ca -1 ''
sign stranger other-ca 30 ''
"""
    subprocess.run(["bash", "-c", script], check=True, capture_output=True, timeout=60)


def resp(*args):
    out = f"*{len(args)}\r\n"
    for a in args:
        b = str(a)
        out += f"${len(b.encode())}\r\n{b}\r\n"
    return out.encode()


def wait_until(what, timeout=30.0, step=0.2):
    """Polls what() until it is truthy or `timeout` seconds passed; returns
    its last value."""
    deadline = time.time() + timeout
    value = what()
    while not value and time.time() < deadline:
        time.sleep(step)
        value = what()
    return value


def start_lockd(d, name, port, args):
    node = os.path.join(d, name)
    os.makedirs(node, exist_ok=True)
    proc = subprocess.Popen(
        [SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", node, "--appendonly", "yes",
         "--logfile", os.path.join(node, "lockd.log")] + args,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: subprocess.run(["redis-cli", "-p", str(port), "PING"], capture_output=True,
                                      text=True, timeout=10).stdout.strip() == "PONG", 10)
    return proc


def stop(procs):
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


def sentinel_checks(d):
    """Two lockd nodes replicating over TLS and two Sentinels that speak only
    TLS: the Sentinels find the replica and each other, and SENTINEL FAILOVER
    promotes the replica and turns the old primary into its replica, every
    connection over TLS."""
    if shutil.which("redis-sentinel") is None:
        not_ok("redis-sentinel is installed")
        return
    certs = ["--tls-cert-file", f"{d}/server.crt", "--tls-key-file", f"{d}/server.key",
             "--tls-ca-cert-file", f"{d}/ca.crt", "--tls-replication", "yes"]
    p_port, p_tls, r_port, r_tls = free_port(), free_port(), free_port(), free_port()
    procs = []
    try:
        procs.append(start_lockd(d, "primary", p_port, ["--tls-port", str(p_tls)] + certs))
        procs.append(start_lockd(d, "replica", r_port, ["--tls-port", str(r_tls), "--replicaof",
                                                        f"127.0.0.1 {p_tls}"] + certs))

        def info(port, field):
            out = subprocess.run(["redis-cli", "-p", str(port), "INFO", "replication"],
                                 capture_output=True, text=True, timeout=10).stdout
            for line in out.splitlines():
                if line.startswith(field + ":"):
                    return line.split(":", 1)[1].strip()
            return ""

        check_equal("replication over TLS: the replica's link to the primary's tls-port is up",
                    wait_until(lambda: info(r_port, "master_link_status") == "up", 20), True)
        check_equal("replication over TLS: the primary lists the replica at its tls-port",
                    f"port={r_tls}," in info(p_port, "slave0"), True)

        s_tls = [free_port(), free_port()]
        for i, port in enumerate(s_tls):
            conf = os.path.join(d, f"sentinel{i}.conf")
            with open(conf, "w") as f:
                f.write(f"""port 0
tls-port {port}
bind 127.0.0.1
tls-cert-file {d}/server.crt
tls-key-file {d}/server.key
tls-ca-cert-file {d}/ca.crt
tls-replication yes
dir {d}
logfile {d}/sentinel{i}.log
sentinel monitor lockd 127.0.0.1 {p_tls} 2
sentinel down-after-milliseconds lockd 3000
sentinel failover-timeout lockd 20000
""")
            procs.append(subprocess.Popen(["redis-sentinel", conf], stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        scli = ["redis-cli", "--tls", "--cacert", f"{d}/ca.crt", "--cert", f"{d}/client.crt",
                "--key", f"{d}/client.key", "-p"]

        def sentinel(i, *args):
            r = subprocess.run(scli + [str(s_tls[i])] + list(args), capture_output=True,
                               text=True, timeout=10)
            return r.stdout.split()

        def replicas_ok():
            out = sentinel(0, "SENTINEL", "REPLICAS", "lockd")
            return str(r_tls) in out and "slave" in out and "master-link-status" in out and \
                out[out.index("master-link-status") + 1] == "ok"

        check_equal("sentinel over TLS: SENTINEL REPLICAS finds the replica at its tls-port, link ok",
                    wait_until(replicas_ok, 30), True)
        check_equal("sentinel over TLS: SENTINEL SENTINELS lists the other sentinel (hello over TLS)",
                    bool(wait_until(lambda: str(s_tls[1]) in sentinel(0, "SENTINEL", "SENTINELS", "lockd"),
                              30)), True)
        flags = sentinel(1, "SENTINEL", "MASTER", "lockd")
        check_equal("sentinel over TLS: the primary is up (flags master)",
                    flags[flags.index("flags") + 1] if "flags" in flags else flags, "master")
        check_equal("sentinel over TLS: SENTINEL CKQUORUM",
                    " ".join(sentinel(0, "SENTINEL", "CKQUORUM", "lockd")).startswith("OK"), True)

        subprocess.run(["redis-cli", "-p", str(p_port), "LOCK.ACQUIRE", "seat", "alice", "60000"],
                       capture_output=True, timeout=10)
        check_equal("sentinel over TLS: SENTINEL FAILOVER", sentinel(0, "SENTINEL", "FAILOVER", "lockd"),
                    ["OK"])
        check_equal("sentinel over TLS: the replica is promoted (GET-MASTER-ADDR-BY-NAME)",
                    wait_until(lambda: sentinel(1, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "lockd") ==
                         ["127.0.0.1", str(r_tls)], 60), True)
        check_equal("sentinel over TLS: the promoted node says role:master",
                    wait_until(lambda: info(r_port, "role") == "master", 30), True)
        check_equal("sentinel over TLS: the old primary follows the new one over TLS",
                    wait_until(lambda: info(p_port, "role") == "slave" and
                         info(p_port, "master_port") == str(r_tls) and
                         info(p_port, "master_link_status") == "up", 60), True)
        out = subprocess.run(["redis-cli", "-p", str(r_port), "LOCK.FENCE", "seat"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        check_equal("sentinel over TLS: the promoted node kept the lock and its token", out, "1")
    finally:
        stop(procs)


def tls_port_checks(d):
    """CONFIG SET tls-port under redis-cli: opens, moves, closes."""
    port, p1, p2 = free_port(), free_port(), free_port()
    proc = start_lockd(d, "moving", port, ["--tls-cert-file", f"{d}/server.crt", "--tls-key-file",
                                           f"{d}/server.key", "--tls-ca-cert-file", f"{d}/ca.crt"])
    try:
        plain = ["redis-cli", "-p", str(port)]
        tls = ["redis-cli", "--tls", "--cacert", f"{d}/ca.crt", "--cert", f"{d}/client.crt",
               "--key", f"{d}/client.key", "-p"]

        def run(argv):
            r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
            return (r.stdout + r.stderr).strip()

        check_equal("CONFIG SET tls-port opens a TLS listener",
                    run(plain + ["CONFIG", "SET", "tls-port", str(p1)]), "OK")
        check_equal("redis-cli --tls on the new tls-port", run(tls + [str(p1), "PING"]), "PONG")
        check_equal("CONFIG SET tls-port moves it", run(plain + ["CONFIG", "SET", "tls-port", str(p2)]),
                    "OK")
        check_equal("redis-cli --tls on the moved tls-port", run(tls + [str(p2), "PING"]), "PONG")
        check_equal("the old tls-port is closed", "PONG" in run(tls + [str(p1), "PING"]), False)
        check_equal("CONFIG SET tls-port 0 closes it", run(plain + ["CONFIG", "SET", "tls-port", "0"]),
                    "OK")
        check_equal("nothing on the closed tls-port", "PONG" in run(tls + [str(p2), "PING"]), False)
    finally:
        stop([proc])


def main():
    d = tempfile.mkdtemp(prefix="lockd-tls-")
    proc = None
    try:
        make_certs(d)
        port, tls_port, http_port = free_port(), free_port(), free_port()
        log = os.path.join(d, "lockd.log")
        proc = subprocess.Popen(
            [SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", d, "--appendonly", "no",
             "--logfile", log, "--tls-port", str(tls_port), "--tls-cert-file", f"{d}/server.crt",
             "--tls-key-file", f"{d}/server.key", "--tls-ca-cert-file", f"{d}/ca.crt",
             "--http-port", str(http_port), "--http-tls", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)

        cli = ["redis-cli", "-p", str(tls_port), "--tls", "--cacert", f"{d}/ca.crt"]
        with_cert = cli + ["--cert", f"{d}/client.crt", "--key", f"{d}/client.key"]

        def run(argv):
            r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
            return (r.stdout + r.stderr).strip()

        check_equal("redis-cli --tls: PING", run(with_cert + ["PING"]), "PONG")
        check_equal("redis-cli --tls: LOCK.ACQUIRE", run(with_cert + ["LOCK.ACQUIRE", "k", "a", "60000"]), "1")
        check_equal("redis-cli --tls: LOCK.FENCE", run(with_cert + ["LOCK.FENCE", "k"]), "1")
        check_equal("redis-cli --tls: SET NX PX", run(with_cert + ["SET", "s", "v", "NX", "PX", "60000"]), "OK")
        check_equal("redis-cli --tls: SET NX PX on a held key", run(with_cert + ["SET", "s", "w", "NX", "PX", "60000"]), "")
        check_equal("redis-cli --tls: LOCK.RELEASE", run(with_cert + ["LOCK.RELEASE", "k", "a", "1"]), "1")
        out = run(cli + ["PING"])
        check_equal("redis-cli --tls without a certificate is refused (tls-auth-clients yes)", "PONG" in out, False)
        out = run(cli + ["--cert", f"{d}/expired.crt", "--key", f"{d}/expired.key", "PING"])
        check_equal("redis-cli --tls with an expired certificate is refused", "PONG" in out, False)
        out = run(cli + ["--cert", f"{d}/stranger.crt", "--key", f"{d}/stranger.key", "PING"])
        check_equal("redis-cli --tls with another CA's certificate is refused", "PONG" in out, False)
        check_equal("CONFIG SET tls-auth-clients optional",
                    run(["redis-cli", "-p", str(port), "CONFIG", "SET", "tls-auth-clients", "optional"]), "OK")
        check_equal("redis-cli --tls without a certificate, tls-auth-clients optional", run(cli + ["PING"]), "PONG")
        check_equal("plain redis-cli on the TLS port gets no reply",
                    "PONG" in run(["redis-cli", "-p", str(tls_port), "PING"]), False)

        # Python's ssl module, speaking RESP itself.
        ctx = ssl.create_default_context(cafile=f"{d}/ca.crt")
        ctx.load_cert_chain(f"{d}/client.crt", f"{d}/client.key")
        with socket.create_connection(("127.0.0.1", tls_port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                check_equal("python ssl: negotiated TLSv1.3", s.version(), "TLSv1.3")
                s.sendall(resp("LOCK.ACQUIRE", "py", "me", "60000") + resp("LOCK.INFO", "py"))
                data = b""
                while not data.endswith(b"waiters\r\n:0\r\n"):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                token = data.split(b"\r\n", 1)[0][1:]
                check_equal("python ssl: LOCK.ACQUIRE then LOCK.INFO",
                            data.startswith(b":" + token + b"\r\n*8\r\n$6\r\nholder\r\n$2\r\nme\r\n"
                                      b"$5\r\ntoken\r\n:" + token + b"\r\n$6\r\nttl_ms\r\n"),
                            True)
        ctx12 = ssl.create_default_context(cafile=f"{d}/ca.crt")
        ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
        with socket.create_connection(("127.0.0.1", tls_port), timeout=10) as raw:
            with ctx12.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(resp("PING"))
                check_equal("python ssl: TLSv1.2", (s.version(), s.recv(100)), ("TLSv1.2", b"+PONG\r\n"))

        # redis-py with ssl=True (Debian's python3-redis, as the client suites
        # use it), its Lock included.
        py = os.environ.get("CLIENT_TESTS_PYTHON", "/usr/bin/python3")
        snippet = f"""
import redis
r = redis.Redis(host="localhost", port={tls_port}, ssl=True, ssl_ca_certs="{d}/ca.crt",
                ssl_certfile="{d}/client.crt", ssl_keyfile="{d}/client.key", socket_timeout=10)
out = [r.ping(), r.execute_command("LOCK.ACQUIRE", "rp", "me", "60000") > 0,
       r.set("rps", "v", nx=True, px=60000), r.set("rps", "w", nx=True, px=60000)]
lock = r.lock("rplock", timeout=10)
out += [lock.acquire(blocking=False), lock.owned()]
lock.release()
out.append(r.exists("rplock"))
print(out)
"""
        r = subprocess.run([py, "-c", snippet], capture_output=True, text=True, timeout=30)
        check_equal("redis-py ssl=True: PING, LOCK.ACQUIRE, SET NX PX, Lock",
                    (r.stdout + r.stderr).strip(), "[True, True, True, None, True, True, 0]")

        # HTTP over TLS.
        r = subprocess.run(["curl", "-s", "--max-time", "10", "--cacert", f"{d}/ca.crt",
                            "-o", "/dev/null", "-w", "%{http_code}",
                            f"https://localhost:{http_port}/healthz"],
                           capture_output=True, text=True, timeout=20)
        check_equal("curl --cacert https://localhost/healthz", r.stdout, "200")
        r = subprocess.run(["curl", "-s", "--max-time", "10", "--cacert", f"{d}/ca.crt",
                            "-H", "Content-Type: application/json", "-d",
                            '{"key":"web","holder":"h","ttl_ms":60000}',
                            f"https://localhost:{http_port}/v1/acquire"],
                           capture_output=True, text=True, timeout=20)
        check_equal("curl over TLS: POST /v1/acquire grants", '"token"' in r.stdout, True)
        r = subprocess.run(["curl", "-s", "--max-time", "5", f"http://127.0.0.1:{http_port}/healthz"],
                           capture_output=True, text=True, timeout=20)
        check_equal("plain HTTP on the TLS HTTP listener is refused", r.returncode != 0, True)

        # openssl s_client with TLS 1.2 asks to renegotiate ("R"): refused,
        # and the server keeps serving.
        r = subprocess.run(
            ["bash", "-c",
             "(sleep 1; echo R; sleep 1; printf 'PING\\r\\n'; sleep 1) | openssl s_client"
             f" -connect 127.0.0.1:{tls_port} -tls1_2 -CAfile {d}/ca.crt -cert {d}/client.crt"
             f" -key {d}/client.key"],
            capture_output=True, text=True, timeout=30)
        after = (r.stdout + r.stderr).split("RENEGOTIATING", 1)
        check_equal("s_client: renegotiation is refused (no renegotiated session serves PING)",
                    len(after) == 2 and "no renegotiation" in after[1] and "+PONG" not in after[1], True)
        check_equal("the server still answers after the renegotiation attempt",
                    run(with_cert + ["PING"]), "PONG")

        tls_port_checks(d)
        sentinel_checks(d)
    except Exception as e:  # noqa: BLE001
        not_ok("TLS suite ran", repr(e))
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(d, ignore_errors=True)
    return 1 if tap.failures else 0


if __name__ == "__main__":
    sys.exit(main())
