import { commandSchemas, eventSchemas, type MessageType } from "./messages";

/**
 * NATS layout. Commands live on a work-queue stream (each message handled once by one worker);
 * events on a limits stream any number of consumers can read; exhausted jobs land on the DLQ.
 */
export const STREAMS = {
  commands: { name: "HESAAB_CMD", subjects: ["cmd.>"] },
  events: { name: "HESAAB_EVT", subjects: ["evt.>"] },
  deadLetters: { name: "HESAAB_DLQ", subjects: ["dlq.>"] },
} as const;

/** Which service consumes which commands: non-overlapping filters, as a work queue requires. */
export const COMMAND_FILTERS = {
  backupSvc: ["cmd.backup.>", "cmd.export.>", "cmd.keys.>"],
  restore: "cmd.restore.>",
  storageSvc: "cmd.storage.>",
  drSvc: "cmd.dr.>",
} as const;

const COMMAND_TYPES = new Set<string>(commandSchemas.map((s) => s.shape.type.value));
const EVENT_TYPES = new Set<string>(eventSchemas.map((s) => s.shape.type.value));

export function isCommandType(type: string): boolean {
  return COMMAND_TYPES.has(type);
}

export function isEventType(type: string): boolean {
  return EVENT_TYPES.has(type);
}

/** The subject a message of `type` is published on. */
export function subjectOf(type: MessageType): string {
  return COMMAND_TYPES.has(type) ? `cmd.${type}` : `evt.${type}`;
}

/** The dead-letter subject of a command type. */
export function deadLetterSubjectOf(type: MessageType): string {
  return `dlq.${type}`;
}
