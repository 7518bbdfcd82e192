import { describe, expect, it } from "vitest";
import { connectBus, silentLogger } from "../src";
import { job, sleep, streamMessages } from "./helpers";
import { waitFor } from "@hesaab/testkit";
import { PrivateNatsServer } from "./nats-server";

describe("NATS restarted mid-stream", () => {
  it("keeps consuming after the server comes back; every job takes effect exactly once", async () => {
    await using server = await PrivateNatsServer.start();
    const bus = await connectBus({ url: server.url, name: "restart-test", log: silentLogger });
    try {
      await bus.ensureStreams();

      // The handler is idempotent by message id, as every handler must be: a job whose ack was
      // lost in the restart comes back and is recognised.
      const deliveries = new Map<string, number>();
      const applied = new Set<string>();
      const consumption = await bus.consume({
        durable: "restart",
        filter: "cmd.backup.>",
        concurrency: 2,
        ackWaitMs: 2_000,
        backoffMs: [100],
        fetchExpiresMs: 1_000,
        handler: async (m) => {
          deliveries.set(m.id, (deliveries.get(m.id) ?? 0) + 1);
          await sleep(40);
          applied.add(m.id);
        },
      });

      const ids: string[] = [];
      for (let i = 0; i < 30; i++) ids.push((await bus.publish("backup.tenant.job.v1", job(`before-${i}`))).message.id);
      await waitFor(() => applied.size >= 5, "some jobs before the restart");

      const appliedAtRestart = applied.size;
      await server.down();
      // Published while the server is down: held by the client and sent when it returns.
      const duringOutage = bus.publish("backup.tenant.job.v1", job("during-outage"));
      await sleep(300);
      await server.up();
      ids.push((await duringOutage).message.id);

      for (let i = 0; i < 30; i++) ids.push((await bus.publish("backup.tenant.job.v1", job(`after-${i}`))).message.id);
      await waitFor(() => ids.every((id) => applied.has(id)), "every job after the restart", 60_000);
      await waitFor(async () => (await streamMessages(bus, "commands")) === 0, "an empty work queue");
      await consumption.stop();

      expect(appliedAtRestart).toBeLessThan(30); // the restart really happened mid-stream
      expect(applied.size).toBe(ids.length);
      expect([...applied].sort()).toEqual([...ids].sort());
      // Redeliveries may happen around the restart; nothing was lost and nothing unknown arrived.
      expect([...deliveries.keys()].sort()).toEqual([...ids].sort());
    } finally {
      await bus.close();
    }
  });
});
