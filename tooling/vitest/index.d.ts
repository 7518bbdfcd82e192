/** Test files that need the local stack (real PostgreSQL, NATS, S3 endpoints). */
export declare const STACK_TESTS: string[];
/** A vitest `test` block with the `unit` and `integration` projects (see index.js). */
export declare function projects(o?: { shared?: Record<string, unknown>; integration?: Record<string, unknown> }): Record<string, unknown>;
