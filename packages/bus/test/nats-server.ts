import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";

const NATS_SERVER = process.env.NATS_SERVER_BIN ?? "/usr/sbin/nats-server";

/** A private nats-server with JetStream on a free port and its own store dir, restartable in place. */
export class PrivateNatsServer implements AsyncDisposable {
  #proc: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    readonly storeDir: string,
  ) {}

  static async start(): Promise<PrivateNatsServer> {
    const storeDir = await mkdtemp(path.join(os.tmpdir(), "bus-nats-"));
    const server = new PrivateNatsServer(await freePort(), storeDir);
    await server.up();
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Starts the process (same port, same store) and waits until it accepts connections. */
  async up(): Promise<void> {
    const proc = spawn(NATS_SERVER, ["-a", "127.0.0.1", "-p", String(this.port), "-js", "-sd", this.storeDir], { stdio: "ignore" });
    this.#proc = proc;
    const until = Date.now() + 20_000;
    while (!(await answers(this.port))) {
      if (proc.exitCode !== null) throw new Error(`nats-server exited with ${proc.exitCode}`);
      if (Date.now() > until) throw new Error("nats-server did not start");
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM, and wait for the process to exit. */
  async down(): Promise<void> {
    const proc = this.#proc;
    this.#proc = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGTERM");
    await exited;
  }

  async restart(): Promise<void> {
    await this.down();
    await this.up();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.down();
    await rm(this.storeDir, { recursive: true, force: true });
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: "127.0.0.1" });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}
