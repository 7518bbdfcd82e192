import { describe, expect, it } from "vitest";
import { retentionRulesFromEnv } from "../src";

describe("retentionRulesFromEnv", () => {
  it("puts each variable in its type's rule", () => {
    const rules = retentionRulesFromEnv({
      BACKUP_RETENTION_DAYS: 30,
      DISASTER_BACKUP_RETENTION_DAYS: 90,
      BACKUP_RETENTION_KEEP_DAILY: 1,
      BACKUP_RETENTION_KEEP_WEEKLY: 2,
      BACKUP_RETENTION_KEEP_MONTHLY: 3,
      DISASTER_RETENTION_KEEP_DAILY: 4,
      DISASTER_RETENTION_KEEP_WEEKLY: 5,
      DISASTER_RETENTION_KEEP_MONTHLY: 6,
    });
    expect(rules).toEqual({
      tenant: { days: 30, keepDaily: 1, keepWeekly: 2, keepMonthly: 3 },
      disaster: { days: 90, keepDaily: 4, keepWeekly: 5, keepMonthly: 6 },
    });
  });
});
