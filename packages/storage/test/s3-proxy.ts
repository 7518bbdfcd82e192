// An HTTP proxy in front of a real S3 endpoint that checks every request's AWS Signature V4 the way
// S3 does (s3rver does not check V4 signatures; B2 and R2 do), with an implementation of its own on
// node:crypto; records what went through; and can answer the next requests with a scripted error.
import { createHash, createHmac } from "node:crypto";
import { Agent, createServer, request, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { Socket } from "node:net";

export interface ProxiedRequest {
  method: string;
  /** The path as it was on the wire (still percent-encoded). */
  path: string;
  query: string;
  /** Why the signature check failed; undefined when the request was signed correctly. */
  problem: string | undefined;
}

export interface S3Proxy {
  url: string;
  /** Every request so far, in order (clear it with `requests.length = 0`). */
  requests: ProxiedRequest[];
  /** Answer the next `times` correctly signed requests with this instead of forwarding them. */
  answerNext(answer: { status: number; body: string }, times?: number): void;
  close(): Promise<void>;
}

export async function s3Proxy(opts: { target: string; secretAccessKey: string }): Promise<S3Proxy> {
  const target = new URL(opts.target);
  const agent = new Agent({ keepAlive: true });
  const requests: ProxiedRequest[] = [];
  let scripted: { status: number; body: string; times: number } | undefined;
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const url = req.url ?? "/";
      const q = url.indexOf("?");
      const path = q < 0 ? url : url.slice(0, q);
      const query = q < 0 ? "" : url.slice(q + 1);
      const method = req.method ?? "GET";
      const problem = signatureProblem({ method, path, query, headers: req.headers, body, secret: opts.secretAccessKey });
      requests.push({ method, path, query, problem });
      if (problem) return answer(res, 403, errorXml("SignatureDoesNotMatch", problem));
      if (scripted && scripted.times > 0) {
        scripted.times--;
        return answer(res, scripted.status, scripted.body);
      }
      const { expect: _expect, ...headers } = req.headers; // the body is sent at once
      const up = request({ host: target.hostname, port: target.port, method, path: url, headers, agent }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      });
      up.on("error", () => res.destroy());
      up.end(body);
    });
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    answerNext(a, times = 1) {
      scripted = { ...a, times };
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      agent.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export function errorXml(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>proxy</RequestId></Error>`;
}

function answer(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "content-type": "application/xml", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

const sha256 = (data: string | Buffer): string => createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Buffer, data: string): Buffer => createHmac("sha256", key).update(data).digest();
const rfc3986 = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * What S3 would object to in this request's signature, or undefined. The canonical path is the
 * decoded path encoded again as S3 encodes it, so a key sent with a different encoding than the
 * one it was signed with fails here as it fails on B2 and R2.
 */
function signatureProblem(r: { method: string; path: string; query: string; headers: IncomingHttpHeaders; body: Buffer; secret: string }): string | undefined {
  const header = (name: string): string => String(r.headers[name] ?? "");
  const auth = /^AWS4-HMAC-SHA256 Credential=[^/]+\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
    header("authorization"),
  );
  if (!auth) return "no SigV4 Authorization header";
  const [, date, region, service, signedHeaders, signature] = auth as unknown as [string, string, string, string, string, string];
  const payloadHash = header("x-amz-content-sha256");
  if (payloadHash !== "UNSIGNED-PAYLOAD" && payloadHash !== sha256(r.body)) return "x-amz-content-sha256 is not the SHA-256 of the body";
  const names = signedHeaders.split(";");
  const unsigned = Object.keys(r.headers).filter((h) => (h.startsWith("x-amz-") || h === "host") && !names.includes(h));
  if (unsigned.length > 0) return `headers not signed: ${unsigned.join(", ")}`;
  if (!header("x-amz-date").startsWith(date)) return "x-amz-date is not the date of the credential scope";
  const canonicalPath = r.path
    .split("/")
    .map((s) => rfc3986(decodeURIComponent(s)))
    .join("/");
  const canonicalQuery = r.query
    .split("&")
    .filter(Boolean)
    .map((p) => {
      const [k = "", v = ""] = p.split("=", 2);
      return `${rfc3986(decodeURIComponent(k))}=${rfc3986(decodeURIComponent(v))}`;
    })
    .sort()
    .join("&");
  const canonicalHeaders = names.map((n) => `${n}:${header(n).trim().replace(/\s+/g, " ")}\n`).join("");
  const canonicalRequest = [r.method, canonicalPath, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", header("x-amz-date"), scope, sha256(canonicalRequest)].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${r.secret}`, date), region), service), "aws4_request");
  return hmac(key, stringToSign).toString("hex") === signature ? undefined : "the signature does not match";
}
