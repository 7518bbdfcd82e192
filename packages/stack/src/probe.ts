import net from "node:net";
import http from "node:http";

/** True when something accepts TCP connections on host:port within `timeoutMs`. */
export function tcpAnswers({ host, port, timeoutMs = 1000 }: { host: string; port: number; timeoutMs?: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** True when an S3-compatible endpoint answers an HTTP request (any HTTP status counts as "answers"). */
export function s3Answers(url: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(true);
    });
    req.once("timeout", () => {
      req.destroy();
      resolve(false);
    });
    req.once("error", () => resolve(false));
  });
}

export async function waitFor(check: () => Promise<boolean>, { timeoutMs, what }: { timeoutMs: number; what: string }): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${what} did not come up within ${Math.round(timeoutMs / 1000)}s`);
}
