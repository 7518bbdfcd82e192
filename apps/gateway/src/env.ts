import { z } from "zod";
import { envPieces, parseEnv } from "@hesaab/config";

const schema = z.object({
  ...envPieces.platformDb,
  ...envPieces.catalogDb,
  ...envPieces.nats,
  ...envPieces.busPrefix,
  GATEWAY_HOST: z.string().default("127.0.0.1"),
  GATEWAY_PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
});

export type GatewayEnv = z.output<typeof schema>;
export const loadEnv = (source: NodeJS.ProcessEnv = process.env): GatewayEnv => parseEnv(schema, source);
