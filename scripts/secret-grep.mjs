#!/usr/bin/env node
// The secret grep of a whole test run: every secret the local stack configured (.stack/env: the master
// keys, the DR keys, the session secrets, the S3 secrets), as written and as the key bytes in hex,
// searched for in the captured output of the run. Prints only the names of what leaked, never a value.
// Usage: node scripts/secret-grep.mjs <log file>…   (exit 1 when a secret is found)
import { readFileSync } from "node:fs";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
// the stack's environment file (another one: SECRET_GREP_ENV, which the script's own test uses)
const env = Object.fromEntries(
  readFileSync(process.env.SECRET_GREP_ENV ?? path.join(root, ".stack/env"), "utf8")
    .split("\n")
    .map((line) => /^export ([A-Z0-9_]+)='(.*)'$/.exec(line))
    .filter(Boolean)
    .map((m) => [m[1], m[2]]),
);

/** name → the strings that would give it away. */
function secrets() {
  const out = new Map();
  const accessKeyIds = new Set(
    Object.entries(env)
      .filter(([k]) => k.endsWith("_ACCESS_KEY_ID"))
      .map(([, v]) => v),
  );
  for (const [name, value] of Object.entries(env)) {
    if (!/SECRET|MASTER_KEYS|PASSWORD/.test(name) || value.length < 8) continue;
    // the local S3 endpoints take the same value for key id and secret: the id is not secret, and
    // appears (as it should) in request logs; a real provider's secret differs and is grepped for
    if (accessKeyIds.has(value)) continue;
    const forms = [value];
    if (name.endsWith("MASTER_KEYS")) {
      for (const entry of value.split(",")) {
        const key = entry.slice(entry.indexOf(":") + 1);
        forms.push(key, Buffer.from(key, "base64").toString("hex"));
      }
    }
    out.set(
      name,
      forms.filter((f) => f.length >= 8),
    );
  }
  return out;
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node scripts/secret-grep.mjs <log file>…");
  process.exit(2);
}
const wanted = secrets();
let leaks = 0;
for (const file of files) {
  const lines = readFileSync(file, "utf8").split("\n");
  for (const [name, forms] of wanted) {
    const hits = lines.filter((line) => forms.some((f) => line.includes(f))).length;
    if (hits > 0) {
      leaks += hits;
      console.error(`secret-grep: ${name} appears in ${hits} line(s) of ${file}`);
    }
  }
}
console.log(`secret-grep: ${wanted.size} configured secrets, ${files.length} log file(s): ${leaks === 0 ? "none found" : `${leaks} line(s) leak`}`);
process.exit(leaks === 0 ? 0 : 1);
