import { describe, expect, it } from "vitest";
import { postgresCpuSeconds } from "../src/bench";
import { onDatabase, testEnv } from "../src";

describe("postgresCpuSeconds", () => {
  it("counts the CPU of a backend that has ended (the postmaster's reaped children)", async () => {
    const before = postgresCpuSeconds();
    // about half a second of one backend's CPU, then the connection ends and its backend exits
    await onDatabase(testEnv().PLATFORM_DATABASE_URL!, (client) => client.query("select sum(i) from generate_series(1, 6000000) as i"));
    let used = 0;
    for (let i = 0; i < 50 && used < 0.1; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      used = postgresCpuSeconds() - before;
    }
    expect(used).toBeGreaterThanOrEqual(0.1);
  });
});
