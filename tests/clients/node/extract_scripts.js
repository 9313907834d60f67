// Writes the Lua scripts node-redlock v4 and v5 send, byte for byte, from the
// installed packages into a directory (default ../redlock_scripts) and prints
// each one's SHA1 (what EVALSHA names it by). Used to refresh those files when
// the pinned versions change; redlock_test.js checks they still match.
// Usage: node extract_scripts.js [DIR]
"use strict";

const fs = require("fs");
const path = require("path");
const Redlock4 = require("redlock");
const Redlock5 = require("redlock5").default;

const out = process.argv[2] || path.join(__dirname, "..", "redlock_scripts");
// The constructors only keep the clients; nothing is sent.
const r4 = new Redlock4([{}]);
const r5 = new Redlock5([{}]);
const files = {
  "redlock4_acquire.lua": r4.scripts.lockScript,
  "redlock4_release.lua": r4.scripts.unlockScript,
  "redlock4_extend.lua": r4.scripts.extendScript,
  "redlock5_acquire.lua": r5.scripts.acquireScript,
  "redlock5_release.lua": r5.scripts.releaseScript,
  "redlock5_extend.lua": r5.scripts.extendScript,
};
for (const [file, script] of Object.entries(files)) {
  fs.writeFileSync(path.join(out, file), script.value);
  console.log(script.hash, file);
}
