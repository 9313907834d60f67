// ioredis over TLS, with the options its users pass (`tls: {ca, cert, key}`):
// a CA-signed client certificate connects and runs lock commands and a
// Redlock acquire/release; a client without a certificate is refused when the
// server asks for one (tls-auth-clients yes); a server certificate from
// another CA is refused by the client. The same checks pass against a
// redis-server with the same TLS settings, which keeps the suite honest.
//
// Usage: node tls_test.js --port TLS_PORT --certs DIR [--host H]
//   DIR holds ca.crt, client.crt, client.key and other-ca.crt (a CA that did
//   not sign the server's certificate).
// Prints "ok N - what" / "not ok N - what" and exits non-zero on a failure.
"use strict";

const fs = require("fs");
const path = require("path");
const Redis = require("ioredis");
const Redlock5 = require("redlock5").default;

function parseArgs(argv) {
  const opts = { host: "127.0.0.1", port: null, certs: null };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === "--host") { opts.host = v; i++; }
    else if (a === "--port") { opts.port = Number(v); i++; }
    else if (a === "--certs") { opts.certs = v; i++; }
    else { throw new Error(`unknown argument ${a}`); }
  }
  if (!opts.port || !opts.certs) throw new Error("--port and --certs are required");
  return opts;
}

let n = 0;
let failed = 0;
function ok(desc) { n++; console.log(`ok ${n} - ${desc}`); }
function notOk(desc, diag) {
  n++;
  failed++;
  console.log(`not ok ${n} - ${desc}`);
  if (diag !== undefined) console.log(`#   ${String(diag).split("\n").join("\n#   ")}`);
}
function check(desc, actual, expected) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a === e) ok(desc); else notOk(desc, `expected ${e}, got ${a}`);
}

// A client that reports a failure instead of retrying for ever.
function connect(opts, tls) {
  return new Redis({
    host: opts.host,
    port: opts.port,
    tls,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    connectTimeout: 10000,
  });
}

// Whether a connection with these TLS options gets PONG (false on any error).
async function answers(opts, tls) {
  const c = connect(opts, tls);
  c.on("error", () => {});
  try {
    await c.connect();
    return (await c.ping()) === "PONG";
  } catch (e) {
    return false;
  } finally {
    c.disconnect();
  }
}

async function main() {
  const opts = parseArgs(process.argv);
  const read = (f) => fs.readFileSync(path.join(opts.certs, f));
  // servername: the certificate names localhost and 127.0.0.1; ioredis passes
  // these options to tls.connect unchanged.
  const good = { ca: read("ca.crt"), cert: read("client.crt"), key: read("client.key"),
                 servername: "localhost" };

  const c = connect(opts, good);
  c.on("error", () => {});
  try {
    await c.connect();
    check("ioredis tls: PING with a CA-signed client certificate", await c.ping(), "PONG");
    const key = `tls:${process.pid}:${Date.now()}`;
    check("ioredis tls: SET NX PX on a free key", await c.set(key, "alice", "PX", 30000, "NX"), "OK");
    check("ioredis tls: SET NX PX on a held key", await c.set(key, "bob", "PX", 30000, "NX"), null);
    check("ioredis tls: GET shows the holder", await c.get(key), "alice");
    check("ioredis tls: DEL releases it", await c.del(key), 1);

    const redlock = new Redlock5([c], { retryCount: 0 });
    const lock = await redlock.acquire([`${key}:redlock`], 10000);
    check("ioredis tls: node-redlock v5 acquires", await c.get(`${key}:redlock`), lock.value);
    await lock.release();
    check("ioredis tls: node-redlock v5 releases", await c.exists(`${key}:redlock`), 0);
  } catch (e) {
    notOk("ioredis tls: commands over TLS", e && e.stack ? e.stack : e);
  } finally {
    c.disconnect();
  }

  check("ioredis tls: a client without a certificate is refused (tls-auth-clients yes)",
        await answers(opts, { ca: good.ca, servername: "localhost" }), false);
  check("ioredis tls: a server certificate from another CA is refused by the client",
        await answers(opts, { ca: read("other-ca.crt"), cert: good.cert, key: good.key,
                              servername: "localhost" }), false);
  check("ioredis tls: the same options connect again (nothing above broke the server)",
        await answers(opts, good), true);

  console.log(`# ${n - failed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((e) => {
  notOk("the suite runs to its end", e && e.stack ? e.stack : e);
  process.exit(1);
});
