import { describe, expect, it } from "vitest";
import { newId } from "@hesaab/contracts";
import { connectBus, eventPublisher, type BusLogger } from "../src";
import { NATS_URL, testPrefix } from "./helpers";

describe("eventPublisher", () => {
  it("publishes through the bus, and logs instead of throwing when it cannot", async () => {
    const warnings: { message: string; context?: Record<string, unknown> | undefined }[] = [];
    const log: BusLogger = { info: () => {}, warn: (message, context) => void warnings.push({ message, context }), error: () => {} };
    const bus = await connectBus({ url: NATS_URL, name: "publisher-test", prefix: testPrefix(), log });
    await bus.ensureStreams();
    const publish = eventPublisher(bus);
    const data = { alertId: newId("alr"), severity: "info" as const, code: "test", message: "a test event" };
    await publish("alert.raised.v1", data);
    const info = await bus.jsm.streams.info(bus.layout.stream("events"));
    expect(info.state.messages).toBe(1);
    expect(warnings).toEqual([]);
    await bus.deleteStreams();
    await bus.close();
    await expect(publish("alert.raised.v1", data)).resolves.toBeUndefined();
    expect(warnings).toEqual([expect.objectContaining({ message: "event not published", context: expect.objectContaining({ type: "alert.raised.v1" }) })]);
  });
});
