# A raw RESP2/RESP3 connection for the client suites: it sends commands as
# RESP arrays and returns each reply as the exact bytes the server wrote, so
# that two servers can be compared byte for byte. It parses only as far as it
# must to find where one reply ends (every RESP3 type, attributes included).
# Standard library only: it runs under /usr/bin/python3 or any python3.
import socket


class RespError(Exception):
    """The connection broke or the server sent bytes that are not RESP."""


class RawConnection:
    def __init__(self, host, port, timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    @staticmethod
    def encode(args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if isinstance(a, int):
                a = str(a).encode()
            elif isinstance(a, str):
                a = a.encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def send(self, *args):
        self.sock.sendall(self.encode(args))

    def call(self, *args):
        """Sends one command and returns its reply's raw bytes."""
        self.send(*args)
        return self.read_reply()

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise RespError("connection closed by the server")
        self.buf += chunk

    def _line(self, pos):
        while True:
            end = self.buf.find(b"\r\n", pos)
            if end >= 0:
                return end
            self._fill()

    def _need(self, upto):
        while len(self.buf) < upto:
            self._fill()

    def _skip(self, pos):
        """Returns the offset just past the reply that starts at pos."""
        self._need(pos + 1)
        kind = self.buf[pos:pos + 1]
        end = self._line(pos)
        head = self.buf[pos + 1:end]
        nxt = end + 2
        if kind in (b"+", b"-", b":", b"_", b",", b"#", b"("):
            return nxt
        if kind in (b"$", b"!", b"="):
            n = int(head)
            if n < 0:
                return nxt
            self._need(nxt + n + 2)
            return nxt + n + 2
        if kind in (b"*", b"~", b">", b"%", b"|"):
            n = int(head)
            if n < 0:
                return nxt
            if kind in (b"%", b"|"):
                n *= 2
            for _ in range(n):
                nxt = self._skip(nxt)
            if kind == b"|":
                # An attribute precedes the reply it describes.
                return self._skip(nxt)
            return nxt
        raise RespError("not RESP: %r" % self.buf[pos:pos + 40])

    def read_reply(self):
        end = self._skip(0)
        reply, self.buf = self.buf[:end], self.buf[end:]
        return reply


def parse(raw):
    """Decodes one raw reply into Python values (for checks that need them):
    bulk and simple strings as bytes, errors as RespError instances, nulls as
    None, arrays/sets as lists, maps as dicts."""
    value, _ = _parse(raw, 0)
    return value


def _parse(raw, pos):
    kind = raw[pos:pos + 1]
    end = raw.index(b"\r\n", pos)
    head = raw[pos + 1:end]
    nxt = end + 2
    if kind == b"+":
        return head, nxt
    if kind == b"-":
        return RespError(head.decode(errors="replace")), nxt
    if kind == b":":
        return int(head), nxt
    if kind == b"_":
        return None, nxt
    if kind == b",":
        return float(head), nxt
    if kind == b"#":
        return head == b"t", nxt
    if kind == b"(":
        return int(head), nxt
    if kind in (b"$", b"!", b"="):
        n = int(head)
        if n < 0:
            return None, nxt
        return raw[nxt:nxt + n], nxt + n + 2
    if kind in (b"*", b"~", b">"):
        n = int(head)
        if n < 0:
            return None, nxt
        items = []
        for _ in range(n):
            v, nxt = _parse(raw, nxt)
            items.append(v)
        return items, nxt
    if kind in (b"%", b"|"):
        n = int(head)
        d = {}
        for _ in range(n):
            k, nxt = _parse(raw, nxt)
            v, nxt = _parse(raw, nxt)
            d[k if not isinstance(k, list) else tuple(k)] = v
        if kind == b"|":
            return _parse(raw, nxt)
        return d, nxt
    raise RespError("not RESP: %r" % raw[pos:pos + 40])


def is_lockd(conn):
    """True when the server is lockd: its INFO server section has lockd_version
    (a Redis server has no such field)."""
    raw = conn.call("INFO", "server")
    return b"lockd_version:" in raw
