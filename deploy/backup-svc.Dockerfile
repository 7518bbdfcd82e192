# syntax=docker/dockerfile:1
# @hesaab/backup-svc: built in the workspace, shipped as its `pnpm deploy --prod` folder (dist/ + npm packages).
# Build from the repository root:  docker build -f deploy/backup-svc.Dockerfile -t hesaab/backup-svc .

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
 && pnpm turbo run build --filter=@hesaab/backup-svc \
 && pnpm --filter @hesaab/backup-svc deploy --prod --legacy /out

FROM node:22-bookworm-slim AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends libdeflate0 libzstd1 && rm -rf /var/lib/apt/lists/*
# HESAAB_DATA_DIR (customer exports, work files): a volume owned by the unprivileged user
RUN mkdir -p /data && chown node:node /data
WORKDIR /app
COPY --from=build --chown=root:root /out ./
# configuration and secrets come from the environment at run time (compose: env_file), never from a layer
ENV NODE_ENV=production HESAAB_DATA_DIR=/data BACKUP_SVC_HTTP_PORT=9411
USER node
# BACKUP_SVC_HTTP_PORT: the service's own small HTTP port (/metrics, /healthz, /readyz), on 127.0.0.1 unless HESAAB_HTTP_HOST opens it
EXPOSE 9411
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.BACKUP_SVC_HTTP_PORT ?? 9411}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/main.js"]
