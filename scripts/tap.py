"""One line per check for the Python suites (http-tests.py, tls-tests.py,
sentinel-tests.py): "ok N - what" or "not ok N - what", followed by "#"
lines saying why. scripts/run-tests.sh counts those lines."""

import socket

count = 0  # checks so far
failures = 0


def ok(what):
    global count
    count += 1
    print(f"ok {count} - {what}", flush=True)


def not_ok(what, why=""):
    global count, failures
    count += 1
    failures += 1
    print(f"not ok {count} - {what}", flush=True)
    for line in str(why).splitlines()[:12]:
        print(f"#   {line}", flush=True)


def check_equal(what, actual, expected):
    if actual == expected:
        ok(what)
    else:
        not_ok(what, f"expected {expected!r}, got {actual!r}")
    return actual == expected


def check_true(what, cond, why=""):
    if cond:
        ok(what)
    else:
        not_ok(what, why)
    return cond


def note(text):
    print(f"# {text}", flush=True)


def free_port():
    """A TCP port free on 127.0.0.1 at the time of the call."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
