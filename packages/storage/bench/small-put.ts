// What one small put costs us: N sequential puts of an 8 KiB Buffer through `backend.put` of the S3
// backend against the local s3rver, with this process's CPU (user + system) and the wall time per
// put. Small puts are what a backup of thousands of small tenants is made of. For scale, each round
// also sends the same PUTs with bare node:http (unsigned, no SDK): the floor of a request here.
// A diagnosis tool, not a test: the machines are shared, so compare rounds, never assert on them.
//
//   pnpm --filter @hesaab/storage exec tsx bench/small-put.ts      # N=400 ROUNDS=3 SIZE=8192 PROVIDER=b2
import { randomBytes } from "node:crypto";
import { Agent, request } from "node:http";
import { testProviderConfig, uniquePrefix } from "@hesaab/testkit";
import { s3Backend } from "../src";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const N = Number(process.env.N ?? 400);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SIZE = Number(process.env.SIZE ?? 8192);
const provider = process.env.PROVIDER === "r2" ? "r2" : "b2";

const { kind: _kind, ...config } = testProviderConfig(provider);
const backend = s3Backend(config);
const prefix = uniquePrefix("bench-small-put");
const body = randomBytes(SIZE);

const agent = new Agent({ keepAlive: true });
const endpoint = new URL(config.endpoint);
/** The same PUT without signing or SDK (s3rver takes unsigned requests); only for the floor line. */
function barePut(key: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const path = `/${config.bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
    const headers = { "content-type": "application/octet-stream", "content-length": String(body.length) };
    const req = request({ host: endpoint.hostname, port: endpoint.port, method: "PUT", path, headers, agent }, (res) => {
      res.resume();
      res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`http ${res.statusCode}`))));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Per-put CPU and wall time of N sequential calls of `put(i)`. */
async function timed(put: (i: number) => Promise<unknown>): Promise<string> {
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await put(i);
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  const used = process.cpuUsage(cpu);
  return `our CPU ${((used.user + used.system) / 1000 / N).toFixed(3)} ms, wall ${(wallMs / N).toFixed(3)} ms`;
}

for (let i = 0; i < 50; i++) {
  await backend.put(`${prefix}warm-${i}`, body); // connections, JIT
  await barePut(`${prefix}warm-bare-${i}`);
}
console.log(`${N} sequential puts of ${SIZE} B to ${provider} (s3rver), per put:`);
for (let round = 1; round <= ROUNDS; round++) {
  const viaBackend = await timed((i) => backend.put(`${prefix}r${round}-${i}`, body, { metadata: { sha256: "0".repeat(64) } }));
  const bare = await timed((i) => barePut(`${prefix}bare-r${round}-${i}`));
  console.log(`  round ${round}: backend.put ${viaBackend} | bare node:http ${bare}`);
}
agent.destroy();

for await (const e of backend.list(prefix)) await backend.delete(e.key);
