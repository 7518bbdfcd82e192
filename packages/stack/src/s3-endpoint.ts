import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import path from "node:path";
import { s3Answers, waitFor } from "./probe";

/**
 * A private s3rver process (not the stack's shared endpoints), for tests that take a provider down
 * and bring it back: `stop()` kills the real process (its port refuses connections), `start()`
 * starts it again on the same port over the same data folder, so what it held is there again.
 */
export interface S3Endpoint {
  url: string;
  bucket: string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startS3Endpoint({ dir, bucket }: { dir: string; bucket: string }): Promise<S3Endpoint> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  mkdirSync(dir, { recursive: true });
  const require = createRequire(import.meta.url);
  const bin = path.join(path.dirname(require.resolve("s3rver/package.json")), "bin", "s3rver.js");
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    if (child) return;
    child = spawn(
      process.execPath,
      [bin, "-d", dir, "-a", "127.0.0.1", "-p", String(port), "--silent", "--allow-mismatched-signatures", "--configure-bucket", bucket],
      // eslint-disable-next-line no-restricted-syntax -- the child inherits PATH and locale, not configuration
      { stdio: "ignore", env: { ...process.env, NODE_OPTIONS: "--openssl-legacy-provider" } },
    );
    await waitFor(() => s3Answers(url), { timeoutMs: 20_000, what: `s3rver on ${port}` });
  };
  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = once(c, "exit");
    c.kill("SIGKILL");
    await exited;
  };
  await start();
  return { url, bucket, stop, start };
}
