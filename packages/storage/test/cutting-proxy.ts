// A TCP proxy in front of a real endpoint that can drop a connection after it forwarded some bytes
// of the response (pgBackRest's scripted server that drops connections, in miniature).
import { createConnection, createServer, type Server, type Socket } from "node:net";

export interface CuttingProxy {
  url: string;
  /** Cut the next `times` connections after `afterBytes` bytes of response. */
  cutAfter(afterBytes: number, times?: number): void;
  /** Like `cutAfter`, but leave the connection open and silent (a stalled provider). */
  stallAfter(afterBytes: number, times?: number): void;
  close(): Promise<void>;
}

export async function cuttingProxy(target: string): Promise<CuttingProxy> {
  const { hostname, port } = new URL(target);
  let cut: { afterBytes: number; times: number; stall: boolean } | undefined;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    const upstream = createConnection({ host: hostname, port: Number(port) });
    sockets.add(upstream);
    const rule = cut && cut.times > 0 ? { afterBytes: cut.afterBytes, stall: cut.stall } : undefined;
    if (rule && cut) cut.times--;
    let sent = 0;
    client.pipe(upstream);
    upstream.on("data", (chunk: Buffer) => {
      if (rule && sent + chunk.length > rule.afterBytes) {
        client.write(chunk.subarray(0, Math.max(0, rule.afterBytes - sent)));
        sent = rule.afterBytes;
        if (rule.stall) {
          upstream.pause(); // nothing more, and no close either
          return;
        }
        client.destroy();
        upstream.destroy();
        return;
      }
      if (rule?.stall && sent >= rule.afterBytes) return;
      sent += chunk.length;
      client.write(chunk);
    });
    upstream.on("end", () => client.end());
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", drop);
    upstream.on("error", drop);
    client.on("close", () => sockets.delete(client));
    upstream.on("close", () => sockets.delete(upstream));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    cutAfter(afterBytes, times = 1) {
      cut = { afterBytes, times, stall: false };
    },
    stallAfter(afterBytes, times = 1) {
      cut = { afterBytes, times, stall: true };
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
