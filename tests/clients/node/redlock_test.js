// node-redlock v4 and v5 (on ioredis) against one server and against three
// (the Redlock quorum): acquire, a second acquire refused while held, extend,
// release, acquire again after release, multi-resource locks, a quorum won or
// lost when other holders sit on some servers, v5's automatic extension, and
// on lockd, LOCK.FENCE tokens for a Redlock-held resource. The libraries run
// unchanged: EVALSHA of their scripts, EVAL on NOSCRIPT.
//
// Usage: node redlock_test.js --single PORT [--triple P1,P2,P3] [--host H]
// Prints "ok N - what" / "not ok N - what" (scripts/run-tests.sh counts them)
// and exits non-zero if any check failed. Plain node, no test framework.
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const path = require("path");
const Redis = require("ioredis");
const Redlock4 = require("redlock");
const Redlock5 = require("redlock5").default;

function parseArgs(argv) {
  const opts = { host: "127.0.0.1", single: null, triple: null };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === "--host") { opts.host = v; i++; }
    else if (a === "--single") { opts.single = Number(v); i++; }
    else if (a === "--triple") { opts.triple = v.split(",").map(Number); i++; }
    else { throw new Error(`unknown argument ${a}`); }
  }
  if (!opts.single) throw new Error("--single PORT is required");
  if (opts.triple && opts.triple.length !== 3) throw new Error("--triple takes three ports");
  return opts;
}

let n = 0;
let failed = 0;
function ok(desc) { n++; console.log(`ok ${n} - ${desc}`); }
function notOk(desc, diag) {
  n++;
  failed++;
  console.log(`not ok ${n} - ${desc}`);
  if (diag) console.log(`#   ${String(diag).split("\n").slice(0, 4).join("\n#   ")}`);
}
function skip(desc, why) { n++; console.log(`ok ${n} # skip ${desc}: ${why}`); }

// The last error a server answered, as the libraries report it (they turn it
// into a lost vote): a failed check shows it next to the library's own error.
let lastServerError = null;

// check(desc, fn): fn returns true, or a diagnostic string; a throw fails.
async function check(desc, fn) {
  lastServerError = null;
  try {
    const res = await fn();
    if (res === true) ok(desc);
    else notOk(desc, res);
  } catch (e) {
    const server = lastServerError ? ` (server error: ${lastServerError.message})` : "";
    notOk(desc, `${e && e.name}: ${e && e.message}${server}`);
  }
}

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

// eventually(fn): fn() until it returns true, for 3 s at most; then its last
// result. Redlock answers once a quorum has voted, so the other servers' replies
// (and a failed acquire's undo) may still be on their way when it returns.
async function eventually(fn) {
  const until = Date.now() + 3000;
  for (;;) {
    const res = await fn();
    if (res === true || Date.now() > until) return res;
    await sleep(20);
  }
}

function client(host, port) {
  const c = new Redis({
    host, port,
    // A server that does not answer fails the check instead of hanging the suite.
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
    commandTimeout: 15000,
    retryStrategy: (times) => (times > 3 ? null : 200),
  });
  c.on("error", () => {});
  return c;
}

async function rejects(promise) {
  try {
    await promise;
    return false;
  } catch (e) {
    return true;
  }
}

// The script hashes each library computed must be the SHA1s of the committed
// files in ../redlock_scripts: they are what EVALSHA asks the server for.
async function scriptChecks() {
  const dir = path.join(__dirname, "..", "redlock_scripts");
  const fake = {};
  const r4 = new Redlock4([fake]);
  const r5 = new Redlock5([fake]);
  const pairs = [
    ["redlock4_acquire.lua", r4.scripts.lockScript],
    ["redlock4_extend.lua", r4.scripts.extendScript],
    ["redlock4_release.lua", r4.scripts.unlockScript],
    ["redlock5_acquire.lua", r5.scripts.acquireScript],
    ["redlock5_extend.lua", r5.scripts.extendScript],
    ["redlock5_release.lua", r5.scripts.releaseScript],
  ];
  for (const [file, script] of pairs) {
    await check(`${file} is byte for byte the script the installed library sends (${script.hash})`, () => {
      const bytes = fs.readFileSync(path.join(dir, file));
      const sha = crypto.createHash("sha1").update(bytes).digest("hex");
      if (sha !== script.hash) return `file SHA1 ${sha}, library ${script.hash}`;
      return bytes.equals(Buffer.from(script.value)) || "bytes differ";
    });
  }
}

// A uniform face over the two major versions.
function adapter(version, clients, settings) {
  if (version === 4) {
    const r = new Redlock4(clients, settings);
    r.on("clientError", (e) => { lastServerError = e; });
    return {
      acquire: (resources, ttl) => r.lock(resources, ttl),
      extend: (lock, ttl) => lock.extend(ttl),
      release: (lock) => lock.unlock(),
      value: (lock) => lock.value,
    };
  }
  const r = new Redlock5(clients, settings);
  // v5 reports a lost vote (a reply of 0) as ResourceLockedError; only a
  // server's own error is worth showing.
  r.on("error", (e) => { if (e.name !== "ResourceLockedError") lastServerError = e; });
  // v5 resolves at the quorum; each attempt's stats resolve once every server voted.
  const allVotes = async (x) => { await Promise.all(x.attempts); return x; };
  return {
    acquire: async (resources, ttl) => allVotes(await r.acquire(resources, ttl)),
    extend: async (lock, ttl) => allVotes(await lock.extend(ttl)),
    release: async (lock) => allVotes(await lock.release()),
    value: (lock) => lock.value,
    redlock: r,
  };
}

async function suite(version, label, clients, lockd, prefix) {
  const tag = `v${version} ${label}`;
  const fast = adapter(version, clients, { retryCount: 0, retryDelay: 50, retryJitter: 10 });
  const patient = adapter(version, clients, { retryCount: 200, retryDelay: 50, retryJitter: 10 });
  const res = `${prefix}:v${version}:${label}:res`;
  const quorum = Math.floor(clients.length / 2) + 1;

  async function holders(key) { return Promise.all(clients.map((c) => c.get(key))); }
  async function pttls(key) { return Promise.all(clients.map((c) => c.pttl(key))); }

  let lock = null;
  await check(`${tag}: acquire a free resource`, async () => {
    lock = await fast.acquire([res], 10000);
    return eventually(async () => {
      const h = await holders(res);
      if (h.some((v) => v !== fast.value(lock))) return `servers hold ${JSON.stringify(h)}, lock value ${fast.value(lock)}`;
      const t = await pttls(res);
      return t.every((x) => x > 0 && x <= 10000) || `PTTLs ${t}`;
    });
  });
  if (!lock) {
    notOk(`${tag}: the rest of this suite`, "no lock to work with");
    return;
  }
  await check(`${tag}: a second acquire of the held resource fails`, async () =>
    (await rejects(fast.acquire([res], 10000))) || "the second acquire succeeded");
  await check(`${tag}: the failed acquire left the holder's value in place`, async () => {
    const h = await holders(res);
    return h.every((v) => v === fast.value(lock)) || `servers hold ${JSON.stringify(h)}`;
  });
  if (lockd) {
    await check(`${tag}: LOCK.FENCE of the resource gives each server's token`, async () => {
      const f = await Promise.all(clients.map((c) => c.call("LOCK.FENCE", res)));
      return f.every((x) => Number.isInteger(x) && x > 0) || `LOCK.FENCE answered ${JSON.stringify(f)}`;
    });
  } else {
    skip(`${tag}: LOCK.FENCE of the resource gives each server's token`, "the server is not lockd");
  }
  await check(`${tag}: extend sets the new TTL`, async () => {
    lock = await fast.extend(lock, 30000);
    return eventually(async () => {
      const t = await pttls(res);
      return t.every((x) => x > 20000 && x <= 30000) || `PTTLs after extend(30000): ${t}`;
    });
  });
  let firstFence = null;
  if (lockd) firstFence = await Promise.all(clients.map((c) => c.call("LOCK.FENCE", res).catch(() => null)));
  await check(`${tag}: release frees the resource on every server`, async () => {
    await fast.release(lock);
    return eventually(async () => {
      const e = await Promise.all(clients.map((c) => c.exists(res)));
      return e.every((x) => x === 0) || `EXISTS ${e}`;
    });
  });
  await check(`${tag}: acquire after the release succeeds`, async () => {
    lock = await fast.acquire([res], 10000);
    return true;
  });
  if (lockd) {
    await check(`${tag}: the new acquisition's fencing token is larger on every server`, async () => {
      const f = await Promise.all(clients.map((c) => c.call("LOCK.FENCE", res)));
      return f.every((x, i) => Number.isInteger(x) && x > firstFence[i]) ||
        `before ${JSON.stringify(firstFence)}, after ${JSON.stringify(f)}`;
    });
  } else {
    skip(`${tag}: the new acquisition's fencing token is larger on every server`, "the server is not lockd");
  }
  await check(`${tag}: an acquire that retries gets the lock once the holder releases`, async () => {
    const waiting = patient.acquire([res], 10000);
    await sleep(120);
    await fast.release(lock);
    lock = await waiting;
    const v = patient.value(lock);
    const res2 = await eventually(async () => {
      const h = await holders(res);
      return h.every((x) => x === v) || `servers hold ${JSON.stringify(h)}`;
    });
    await patient.release(lock);
    return res2;
  });

  // Several resources at once: all or nothing.
  const a = `${res}:multi:a`, b = `${res}:multi:b`, c = `${res}:multi:c`;
  await check(`${tag}: a multi-resource lock takes every key`, async () => {
    lock = await fast.acquire([a, b], 10000);
    return eventually(async () => {
      const h = [...(await holders(a)), ...(await holders(b))];
      return h.every((x) => x === fast.value(lock)) || `servers hold ${JSON.stringify(h)}`;
    });
  });
  await check(`${tag}: a lock overlapping one held key fails and takes nothing`, async () => {
    if (!(await rejects(fast.acquire([b, c], 10000)))) return "the overlapping acquire succeeded";
    return eventually(async () => {
      const e = await Promise.all(clients.map((cl) => cl.exists(c)));
      return e.every((x) => x === 0) || `the free key was taken: EXISTS ${e}`;
    });
  });
  await check(`${tag}: releasing the multi-resource lock frees every key`, async () => {
    await fast.release(lock);
    return eventually(async () => {
      const e = await Promise.all(clients.map((cl) => cl.exists(a, b)));
      return e.every((x) => x === 0) || `EXISTS ${e}`;
    });
  });

  if (clients.length >= 3) {
    const q = `${res}:quorum`;
    await check(`${tag}: with another holder on one server, the quorum (${quorum}) still grants`, async () => {
      await clients[0].set(q, "someone-else", "PX", 30000);
      const l = await fast.acquire([q], 10000);
      const held = await eventually(async () => {
        const h = await holders(q);
        return (h[0] === "someone-else" && h[1] === fast.value(l) && h[2] === fast.value(l)) ||
          `servers hold ${JSON.stringify(h)}`;
      });
      if (held !== true) return held;
      await fast.release(l).catch(() => {});
      return eventually(async () => {
        const after = await holders(q);
        return (after[0] === "someone-else" && after[1] === null && after[2] === null) ||
          `after release servers hold ${JSON.stringify(after)}`;
      });
    });
    await check(`${tag}: with other holders on two servers, the acquire fails and undoes its vote`, async () => {
      await clients[1].set(q, "someone-else", "PX", 30000);
      if (!(await rejects(fast.acquire([q], 10000)))) return "the acquire succeeded without a quorum";
      return eventually(async () => {
        const h = await holders(q);
        return (h[0] === "someone-else" && h[1] === "someone-else" && h[2] === null) ||
          `servers hold ${JSON.stringify(h)}`;
      });
    });
    await Promise.all(clients.map((cl) => cl.del(q)));
  }

  if (version === 5) {
    await check(`${tag}: using() extends the lock automatically while the routine runs`, async () => {
      const u = `${res}:using`;
      let midway = null;
      const aborted = await patient.redlock.using([u], 1000, { automaticExtensionThreshold: 500 },
        async (signal) => {
          await sleep(1500);
          midway = await holders(u);
          return signal.aborted;
        });
      if (aborted) return "the routine's signal was aborted";
      if (midway.some((x) => x === null)) return `after 1.5 s of a 1 s lock, servers hold ${JSON.stringify(midway)}`;
      return eventually(async () => {
        const e = await Promise.all(clients.map((cl) => cl.exists(u)));
        return e.every((x) => x === 0) || `the lock was not released after using(): EXISTS ${e}`;
      });
    });
  }
}

async function isLockd(c) {
  const info = await c.info("server");
  return info.includes("lockd_version:");
}

async function main() {
  const opts = parseArgs(process.argv);
  const prefix = `redlock:${Date.now()}`;
  await scriptChecks();

  const single = [client(opts.host, opts.single)];
  const triple = opts.triple ? opts.triple.map((p) => client(opts.host, p)) : null;
  const all = [...single, ...(triple || [])];
  try {
    let lockd = false;
    try {
      lockd = await isLockd(single[0]);
      console.log(`# server: ${lockd ? "lockd" : "redis"}`);
    } catch (e) {
      notOk("the server answers INFO server", e.message);
    }
    for (const version of [4, 5]) {
      await suite(version, "1 server", single, lockd, prefix);
      if (triple) await suite(version, "3 servers", triple, lockd, prefix);
      else skip(`v${version} 3 servers`, "no --triple ports given");
    }
  } finally {
    await Promise.all(all.map((c) => c.quit().catch(() => c.disconnect())));
  }
  console.log(`# ${n} checks, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

// The whole run is bounded: a server that stops answering fails it.
const watchdog = setTimeout(() => {
  notOk("the suite finishes within 180 s", "timed out");
  process.exit(1);
}, 180000);
watchdog.unref();

main().catch((e) => {
  notOk("the suite runs", e && e.stack);
  process.exitCode = 1;
});
