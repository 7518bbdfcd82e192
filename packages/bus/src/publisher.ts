import type { Publish } from "@hesaab/contracts";
import type { Bus } from "./bus";

/**
 * The `Publish` a service hands its capabilities: events go through the bus; a publish that fails
 * is logged, never thrown, so a lost event never fails the work it reports (a catalog record is the
 * truth; events are news).
 */
export function eventPublisher(bus: Pick<Bus, "publish" | "log">): Publish {
  return async (type, data, opts) => {
    await bus.publish(type, data, opts).catch((err: unknown) => bus.log.warn("event not published", { type, error: String(err) }));
  };
}
