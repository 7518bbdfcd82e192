import { ConfigError, type Secret } from "@hesaab/config";

/** The parsed ALERT_* delivery variables (`envPieces.alerts`). */
export interface AlertChannelEnv {
  ALERT_WEBHOOK_URL?: string | undefined;
  ALERT_WEBHOOK_SECRET?: Secret | undefined;
  ALERT_SMTP_URL?: Secret | undefined;
  ALERT_EMAIL_TO?: string | undefined;
  ALERT_EMAIL_FROM?: string | undefined;
}

export interface AlertChannels {
  webhook?: { url: string; secret: Secret };
  email?: { smtpUrl: Secret; to: string[]; from: string };
}

/** What the admin app may see of a channel: its kind and where it goes, never a secret (no credentials, no path, which may hold a token). */
export interface AlertChannelView {
  kind: "webhook" | "email";
  target: string;
}

/**
 * The configured channels. A channel set up halfway (a webhook URL without its secret, an SMTP URL
 * without the addresses) is a configuration error, not a channel silently left out.
 */
export function alertChannels(env: AlertChannelEnv): AlertChannels {
  const channels: AlertChannels = {};
  if (env.ALERT_WEBHOOK_URL || env.ALERT_WEBHOOK_SECRET) {
    if (!env.ALERT_WEBHOOK_URL || !env.ALERT_WEBHOOK_SECRET) {
      throw new ConfigError({
        code: "config_invalid",
        message: "the alert webhook needs both ALERT_WEBHOOK_URL and ALERT_WEBHOOK_SECRET",
        hint: "Set both (the receiver checks x-hesaab-signature with the secret), or neither",
      });
    }
    channels.webhook = { url: env.ALERT_WEBHOOK_URL, secret: env.ALERT_WEBHOOK_SECRET };
  }
  if (env.ALERT_SMTP_URL || env.ALERT_EMAIL_TO) {
    const to = (env.ALERT_EMAIL_TO ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    if (!env.ALERT_SMTP_URL || to.length === 0 || !env.ALERT_EMAIL_FROM) {
      throw new ConfigError({
        code: "config_invalid",
        message: "alert email needs ALERT_SMTP_URL, ALERT_EMAIL_TO and ALERT_EMAIL_FROM",
        hint: "Set all three (ALERT_SMTP_URL=smtp://user:password@host:587), or none",
      });
    }
    channels.email = { smtpUrl: env.ALERT_SMTP_URL, to, from: env.ALERT_EMAIL_FROM };
  }
  return channels;
}

/** The configured channels as the admin app shows them (see `AlertChannelView`). */
export function alertChannelsView(env: AlertChannelEnv): AlertChannelView[] {
  const channels = alertChannels(env);
  const view: AlertChannelView[] = [];
  if (channels.webhook) view.push({ kind: "webhook", target: hostOf(channels.webhook.url) });
  if (channels.email) view.push({ kind: "email", target: `${channels.email.to.join(", ")} via ${hostOf(channels.email.smtpUrl.reveal())}` });
  return view;
}

/** `https://hooks.example.com/T0/secret-path?token=…` → `https://hooks.example.com`. */
function hostOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return "(unparsable URL)";
  }
}
