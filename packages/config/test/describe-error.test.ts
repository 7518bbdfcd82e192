import net from "node:net";
import { describe, expect, it } from "vitest";
import { ConfigError, describeError, HesaabError, isRedeliverable, isTransientError } from "../src";

/** An error as a driver delivers it: a message and a string `code` (a SQLSTATE, a Node errno code). */
const coded = (message: string, code: string) => Object.assign(new Error(message), { code });

/** The error of a real connection to a port nobody listens on (bound, then closed). */
async function refusedConnection(): Promise<Error> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return new Promise((resolve) => net.connect(port, "127.0.0.1").once("error", resolve));
}

describe("describeError", () => {
  it("gives a HesaabError's code, message, hint and retryable", () => {
    const err = new ConfigError({ code: "config_invalid", message: "BACKUP_DATABASE_URL is not set", hint: "Set it", retryable: false });
    expect(describeError(err)).toEqual({ code: "config_invalid", message: "BACKUP_DATABASE_URL is not set", hint: "Set it", retryable: false });
    expect(describeError(new HesaabError({ code: "storage_unavailable", message: "b2: timeout", retryable: true }))).toEqual({
      code: "storage_unavailable",
      message: "b2: timeout",
      retryable: true,
    });
  });

  it("calls an unknown error not retryable, named by its own code or class unless the caller names it", () => {
    expect(describeError(new TypeError("x is undefined"))).toEqual({ code: "TypeError", message: "x is undefined", retryable: false });
    expect(describeError(coded("duplicate key value", "23505"))).toMatchObject({ code: "23505", retryable: false });
    expect(describeError(new Error("boom"), { unknownCode: "restore_failed" })).toEqual({ code: "restore_failed", message: "boom", retryable: false });
    expect(describeError("a string")).toEqual({ code: "unexpected", message: "a string", retryable: false });
    // a HesaabError keeps its own code whatever the caller asks
    expect(describeError(new ConfigError({ code: "config_invalid", message: "m" }), { unknownCode: "restore_failed" }).code).toBe("config_invalid");
  });

  it("calls transient PostgreSQL and network failures retryable", async () => {
    for (const state of ["08006", "08001", "40001", "40P01", "57P01", "57P03", "53300"]) {
      expect(describeError(coded(`failure ${state}`, state)), state).toMatchObject({ code: state, retryable: true });
    }
    for (const state of ["57014", "23505", "42P01"]) expect(isTransientError(coded(`failure ${state}`, state)), state).toBe(false);
    const refused = await refusedConnection();
    expect(describeError(refused)).toMatchObject({ code: "ECONNREFUSED", retryable: true });
    expect(isTransientError(coded("read ECONNRESET", "ECONNRESET"))).toBe(true);
    expect(isTransientError(coded("connect ETIMEDOUT", "ETIMEDOUT"))).toBe(true);
    expect(isTransientError(new Error("Connection terminated unexpectedly"))).toBe(true);
  });

  it("looks through a failed query to the database's error, never showing the SQL", () => {
    const wrapped = new Error("Failed query: select secret from t where id = $1\nparams: 42", { cause: coded("could not serialize access", "40001") });
    const d = describeError(wrapped);
    expect(d).toEqual({ code: "40001", message: "could not serialize access", retryable: true });
  });
});

describe("isRedeliverable", () => {
  it("redelivers anything not known to be permanent", () => {
    expect(isRedeliverable(new Error("lost the connection, or a bug"))).toBe(true);
    expect(isRedeliverable(new HesaabError({ code: "storage_unavailable", message: "m", retryable: true }))).toBe(true);
    expect(isRedeliverable(new HesaabError({ code: "tenant_not_found", message: "m" }))).toBe(false);
    expect(isRedeliverable(coded("malformed backup.tenant.job.v1", "message_malformed"))).toBe(false);
  });
});

describe("code lists", () => {
  it("make a code outside a package's list a type error", () => {
    // @ts-expect-error: not one of config's codes
    const err = new ConfigError({ code: "config_invalidd", message: "typo" });
    expect(err.code).toBe("config_invalidd");
  });
});
