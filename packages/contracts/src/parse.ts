import { type z } from "zod";
import { newId } from "./ids";
import { command, event, type DataInput, type Message, type MessageOf, type MessageType } from "./messages";
import { isCommandType, isEventType } from "./subjects";

/** A message that failed validation; `issues` lists each problem as `path: message`. */
export class MalformedMessageError extends Error {
  readonly code = "message_malformed";
  readonly issues: string[];
  constructor(issues: string[], context: string) {
    super(`malformed ${context}: ${issues.join("; ")}`);
    this.name = "MalformedMessageError";
    this.issues = issues;
  }
}

function issuesOf(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.length ? i.path.join(".") : "(message)"}: ${i.message}`);
}

/** Parses bytes or an object into a known command or event; throws MalformedMessageError with readable issues. */
export function parseMessage(input: Uint8Array | string | unknown): Message {
  let value: unknown = input;
  if (input instanceof Uint8Array || typeof input === "string") {
    const text = typeof input === "string" ? input : new TextDecoder().decode(input);
    try {
      value = JSON.parse(text);
    } catch {
      throw new MalformedMessageError(["(message): not valid JSON"], "message");
    }
  }
  const type = (value as { type?: unknown } | null)?.type;
  if (typeof type !== "string" || !(isCommandType(type) || isEventType(type))) {
    throw new MalformedMessageError([`type: unknown message type ${JSON.stringify(type)}`], "message");
  }
  const schema = isCommandType(type) ? command : event;
  const result = schema.safeParse(value);
  if (!result.success) throw new MalformedMessageError(issuesOf(result.error), type);
  return result.data;
}

/** Builds and validates a message of `type` (fresh id and timestamp); throws MalformedMessageError on bad data. */
export function makeMessage<T extends MessageType>(type: T, data: DataInput<T>): MessageOf<T> {
  return parseMessage({ type, id: newId("evt"), at: new Date().toISOString(), data }) as MessageOf<T>;
}
