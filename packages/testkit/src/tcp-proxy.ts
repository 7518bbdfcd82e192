import { createServer, connect, type Server, type Socket } from "node:net";

/**
 * A TCP proxy in front of a real service (Postgres, an S3 endpoint): point the code under test at
 * `url`'s host and port, then `stop()` it to make the service unreachable for that code alone
 * (connections cut, new ones refused) and `start()` it again on the same port.
 */
export interface TcpProxy {
  readonly host: string;
  readonly port: number;
  /** `target` with its host and port replaced by the proxy's (credentials, path and query kept). */
  readonly url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function tcpProxy(target: string): Promise<TcpProxy> {
  const to = new URL(target);
  const targetPort = Number(to.port) || (to.protocol === "https:" ? 443 : to.protocol === "postgres:" || to.protocol === "postgresql:" ? 5432 : 80);
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((client) => {
        const upstream = connect(targetPort, to.hostname);
        for (const sock of [client, upstream]) {
          sockets.add(sock);
          sock.once("close", () => sockets.delete(sock));
          sock.on("error", () => {
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream).pipe(client);
      });
      s.once("error", reject);
      s.listen(port, "127.0.0.1", () => {
        port = (s.address() as { port: number }).port;
        server = s;
        resolve();
      });
    });
  await listen();
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const sock of sockets) sock.destroy();
      if (!server) return resolve();
      server.close(() => resolve());
      server = undefined;
    });
  const url = new URL(target);
  url.hostname = "127.0.0.1";
  url.port = String(port);
  return {
    host: "127.0.0.1",
    port,
    url: url.toString().replace(/\/$/, target.endsWith("/") ? "/" : ""),
    stop,
    start: () => (server ? Promise.resolve() : listen()),
    close: stop,
  };
}
