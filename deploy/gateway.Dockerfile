# syntax=docker/dockerfile:1
# @hesaab/gateway: built in the workspace, shipped as its `pnpm deploy --prod` folder (dist/ + npm packages).
# Build from the repository root:  docker build -f deploy/gateway.Dockerfile -t hesaab/gateway .

FROM node:22-bookworm-slim AS build
# the libdeflate addon of @hesaab/gzip, the libzstd addon of @hesaab/zstd (without them: node:zlib, same formats, more CPU)
# and the row checksum addon of @hesaab/tenant-data (gcc and the image's Node headers only; without it: JavaScript, same sums)
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev libdeflate-dev libzstd-dev \
 && rm -rf /var/lib/apt/lists/*
RUN corepack enable
WORKDIR /repo
COPY . .
RUN pnpm install --frozen-lockfile \
 && pnpm turbo run build --filter=@hesaab/gateway \
 && pnpm --filter @hesaab/gateway deploy --prod --legacy /out

FROM node:22-bookworm-slim AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends libdeflate0 libzstd1 && rm -rf /var/lib/apt/lists/*
# HESAAB_DATA_DIR (customer exports, work files): a volume owned by the unprivileged user
RUN mkdir -p /data && chown node:node /data
WORKDIR /app
COPY --from=build --chown=root:root /out ./
# configuration and secrets come from the environment at run time (compose: env_file), never from a layer
ENV NODE_ENV=production HESAAB_DATA_DIR=/data GATEWAY_HOST=0.0.0.0 GATEWAY_PORT=8080
EXPOSE 8080
USER node
# /healthz, /readyz and /metrics are on the gateway's own port
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.GATEWAY_PORT ?? 8080}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/main.js"]
