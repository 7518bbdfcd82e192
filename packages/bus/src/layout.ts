import { STREAMS } from "@hesaab/contracts";

export type StreamKind = keyof typeof STREAMS;

/**
 * Names of streams and subjects as one bus sees them. Production uses no prefix (`HESAAB_CMD`,
 * `cmd.backup.tenant.job.v1`); a test passes a prefix such as `T1a2b` so its streams
 * (`T1a2b_HESAAB_CMD`) and subjects (`T1a2b.cmd.…`) never meet another test's.
 */
export class BusLayout {
  readonly prefix: string;

  constructor(prefix = "") {
    if (prefix && !/^[A-Za-z0-9_-]+$/.test(prefix)) {
      throw new Error(`bus prefix ${JSON.stringify(prefix)} may only contain letters, digits, "_" and "-"`);
    }
    this.prefix = prefix;
  }

  /** The stream name of a kind (`HESAAB_CMD`, or `<prefix>_HESAAB_CMD`). */
  stream(kind: StreamKind): string {
    const name = STREAMS[kind].name;
    return this.prefix ? `${this.prefix}_${name}` : name;
  }

  /** The subjects a stream of `kind` captures. */
  streamSubjects(kind: StreamKind): string[] {
    return STREAMS[kind].subjects.map((s) => this.subject(s));
  }

  /** A contracts subject (`cmd.backup.>`) as it travels on this bus. */
  subject(subject: string): string {
    return this.prefix ? `${this.prefix}.${subject}` : subject;
  }

  /** The contracts subject of a subject seen on the wire (the prefix removed). */
  unprefixed(subject: string): string {
    const head = `${this.prefix}.`;
    return this.prefix && subject.startsWith(head) ? subject.slice(head.length) : subject;
  }

  /** Which stream kind holds a contracts subject (`cmd.…`, `evt.…`, `dlq.…`). */
  kindOf(subject: string): StreamKind {
    if (subject.startsWith("cmd.")) return "commands";
    if (subject.startsWith("evt.")) return "events";
    if (subject.startsWith("dlq.")) return "deadLetters";
    throw new Error(`subject ${JSON.stringify(subject)} belongs to no hesaab stream`);
  }
}

/** A durable consumer name made of a service name and one filter (`backup-svc` + `cmd.backup.>` → `backup-svc_cmd_backup_all`). */
export function durableFor(durable: string, filter: string): string {
  const tail = filter.replace(/\.>$/, ".all").replace(/\*/g, "any").replace(/>/g, "all").replace(/\./g, "_");
  return `${durable}_${tail}`;
}
