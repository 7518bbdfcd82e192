export {
  connectBus,
  streamConfig,
  COMMAND_DEDUP_WINDOW_MS,
  EVENT_MAX_AGE_MS,
  DEAD_LETTER_MAX_AGE_MS,
  type Bus,
  type ConnectBusOptions,
  type PublishOptions,
  type PublishResult,
} from "./bus";
export {
  DEFAULT_ACK_WAIT_MS,
  DEFAULT_BACKOFF_MS,
  DEFAULT_MAX_DELIVER,
  type ConsumeOptions,
  type Consumption,
  type ConsumerBacklog,
  type EventConsumeOptions,
  type HandlerContext,
  type MessageHandler,
} from "./consume";
export {
  DEAD_LETTER_HEADERS,
  MALFORMED_SUBJECT,
  maxDeliveriesAdvisorySubject,
  type DeadLetter,
  type DeadLetterHook,
  type DeadLetterReason,
} from "./dead-letter";
export { readEvents, type ReadEventsOptions, type StoredEvent } from "./event-reader";
export { BusError, BUS_ERROR_CODES, type BusErrorCode } from "./errors";
export { BusLayout, durableFor, type StreamKind } from "./layout";
export { consoleLogger, silentLogger, type BusLogger } from "./log";
export type { BusObserver } from "./bus-core";
export {
  createSchedule,
  runSchedule,
  nextPeriod,
  periodAt,
  validateSchedule,
  type PeriodQuery,
  type RunScheduleOptions,
  type Schedule,
  type ScheduleClaim,
  type ScheduleOptions,
  type SchedulePeriod,
  type ScheduleRelease,
  type ScheduleRunner,
  type TickOutcome,
  type TickResult,
} from "./schedule";
export { memoryClaims } from "./schedule-claims";
export { eventPublisher } from "./publisher";
