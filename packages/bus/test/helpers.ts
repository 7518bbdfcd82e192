import { randomBytes } from "node:crypto";
import { connectBus, silentLogger, type Bus } from "../src";

export const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";

/** A unique prefix, so a test's streams and subjects never meet another's. */
export function testPrefix(): string {
  return `T${randomBytes(5).toString("hex")}`;
}

/** A bus on its own prefixed streams; dispose deletes them. */
export async function testBus(opts: { prefix?: string; url?: string; name?: string } = {}): Promise<Bus & AsyncDisposable> {
  const bus = await connectBus({ url: opts.url ?? NATS_URL, name: opts.name ?? "bus-test", prefix: opts.prefix ?? testPrefix(), log: silentLogger });
  await bus.ensureStreams();
  return Object.assign(bus, {
    async [Symbol.asyncDispose]() {
      await bus.close();
    },
  });
}

/** Removes a prefix's streams through a fresh connection. */
export async function dropStreams(prefix: string, url = NATS_URL): Promise<void> {
  const bus = await connectBus({ url, name: "bus-test-cleanup", prefix, log: silentLogger });
  try {
    await bus.deleteStreams();
  } finally {
    await bus.close();
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A tenant backup job's data. */
export function job(tenantId: string) {
  return { tenantId, purpose: "scheduled" as const, period: "2026-11-26", requestedBy: "system:scheduler" };
}

export async function streamMessages(bus: Bus, kind: "commands" | "events" | "deadLetters"): Promise<number> {
  const info = await bus.jsm.streams.info(bus.layout.stream(kind));
  return info.state.messages;
}
