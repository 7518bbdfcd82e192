import { describe, expect, it } from "vitest";
import { Secret } from "@hesaab/config";
import { alertChannels, alertChannelsView } from "../src";

const secret = "whsec-do-not-show";
const smtp = "smtp://alerts:smtp-password-do-not-show@mail.example.test:587";

describe("alert channels", () => {
  it("none configured: no channel", () => {
    expect(alertChannels({})).toEqual({});
    expect(alertChannelsView({})).toEqual([]);
  });

  it("the view names each channel's kind and host, never a secret, a password or a URL's path", () => {
    const env = {
      ALERT_WEBHOOK_URL: "https://hooks.example.test/T01/secret-path?token=abc",
      ALERT_WEBHOOK_SECRET: new Secret(secret),
      ALERT_SMTP_URL: new Secret(smtp),
      ALERT_EMAIL_TO: "ops@example.test, oncall@example.test",
      ALERT_EMAIL_FROM: "backup@example.test",
    };
    const view = alertChannelsView(env);
    expect(view).toEqual([
      { kind: "webhook", target: "https://hooks.example.test" },
      { kind: "email", target: "ops@example.test, oncall@example.test via smtp://mail.example.test:587" },
    ]);
    const shown = JSON.stringify(view);
    for (const hidden of [secret, "smtp-password-do-not-show", "secret-path", "token=abc"]) expect(shown).not.toContain(hidden);
  });

  it("a channel set up halfway is a configuration error saying what is missing", () => {
    expect(() => alertChannels({ ALERT_WEBHOOK_URL: "https://hooks.example.test/x" })).toThrowError(
      expect.objectContaining({ code: "config_invalid", message: expect.stringContaining("ALERT_WEBHOOK_SECRET") }),
    );
    expect(() => alertChannels({ ALERT_SMTP_URL: new Secret(smtp), ALERT_EMAIL_TO: "ops@example.test" })).toThrowError(
      expect.objectContaining({ code: "config_invalid", message: expect.stringContaining("ALERT_EMAIL_FROM") }),
    );
  });
});
