// The S3 half of the scripts an operator would write for a disaster backup by hand (the anchors of
// `pnpm bench:dr`): a plain @aws-sdk/client-s3 script, the SDK's own `Upload` helper with its
// defaults (5 MiB parts, 4 at once), reading the provider from the usual environment
// (<B2|R2>_ENDPOINT_URL, _BUCKET_NAME, _REGION, _ACCESS_KEY_ID, _SECRET_ACCESS_KEY).
//
//   node s3-anchor.mjs upload <b2|r2> <file> <key>     the file to one endpoint
//   node s3-anchor.mjs download <b2|r2> <key>          the object to stdout
import { createReadStream } from "node:fs";
import process from "node:process";
import { pipeline } from "node:stream/promises";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";

const [mode, provider, ...args] = process.argv.slice(2);
const env = (name) => {
  const value = process.env[`${provider.toUpperCase()}_${name}`];
  if (!value) throw new Error(`${provider.toUpperCase()}_${name} is not set`);
  return value;
};
const client = new S3Client({
  endpoint: env("ENDPOINT_URL"),
  region: process.env[`${provider.toUpperCase()}_REGION`] ?? "us-east-1",
  forcePathStyle: true,
  credentials: { accessKeyId: env("ACCESS_KEY_ID"), secretAccessKey: env("SECRET_ACCESS_KEY") },
  // B2 and R2 reject the SDK's default flexible checksums (s3rver would store aws-chunked framing)
  requestChecksumCalculation: "WHEN_REQUIRED",
  responseChecksumValidation: "WHEN_REQUIRED",
});
const Bucket = env("BUCKET_NAME");

if (mode === "upload") {
  const [file, Key] = args;
  await new Upload({ client, params: { Bucket, Key, Body: createReadStream(file) } }).done();
} else if (mode === "download") {
  const [Key] = args;
  const { Body } = await client.send(new GetObjectCommand({ Bucket, Key }));
  await pipeline(Body, process.stdout);
} else {
  throw new Error(`usage: s3-anchor.mjs upload <b2|r2> <file> <key> | download <b2|r2> <key>`);
}
