# syntax=docker/dockerfile:1.7
# One Dockerfile for every ordermesh image:
#   docker build --target service --build-arg SERVICE=user -t registry.example.com/ordermesh/user:$SHA .
#   docker build --target migrate -t registry.example.com/ordermesh/migrate:$SHA .
# Runs with a read-only root filesystem (writes only to the /tmp emptyDir the manifests mount).

ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# ---- base: shared runtime settings -------------------------------------------------------------
FROM ${NODE_IMAGE} AS base
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false
WORKDIR /app

# ---- build: all dependencies, buf + Prisma code generation, tsc -b -----------------------------
FROM base AS build
# openssl: Prisma's CLI picks its schema engine by OpenSSL version (needed by the migrate target).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates openssl \
 && rm -rf /var/lib/apt/lists/*
# Manifests first so the dependency layer is cached until they change. Keep this list in step
# with the "workspaces" of package.json (npm ci refuses a lockfile without them).
COPY package.json package-lock.json ./
COPY proto/package.json proto/
COPY services/kit/runtime/package.json services/kit/runtime/
COPY services/kit/grpc/package.json services/kit/grpc/
COPY services/kit/identity/package.json services/kit/identity/
COPY services/kit/storage/package.json services/kit/storage/
COPY services/kit/messaging/package.json services/kit/messaging/
COPY services/payment/package.json services/payment/
COPY services/order/package.json services/order/
COPY services/notification/package.json services/notification/
COPY services/user/package.json services/user/
RUN --mount=type=cache,target=/root/.npm npm ci --include=dev
COPY . .
RUN npm run build

# ---- prod-tree: same tree, devDependencies removed ----------------------------------------------
FROM build AS prod-tree
RUN npm prune --omit=dev --ignore-scripts

# ---- service: one gRPC service, selected with --build-arg SERVICE=<user|order|payment|notification>
FROM base AS service
ARG SERVICE
ARG VERSION=0.0.0-dev
ARG GIT_COMMIT=unknown
ARG BUILD_DATE=unknown
RUN case "${SERVICE}" in user|order|payment|notification) ;; \
      *) echo "build arg SERVICE must be one of user, order, payment, notification" >&2; exit 1 ;; esac
LABEL org.opencontainers.image.title="ordermesh-${SERVICE}" \
      org.opencontainers.image.description="ordermesh ${SERVICE} gRPC service" \
      org.opencontainers.image.source="https://git.example.com/ordermesh/ordermesh" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${GIT_COMMIT}" \
      org.opencontainers.image.created="${BUILD_DATE}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="ordermesh"
# Files stay root-owned and read-only for the runtime user. node_modules holds production
# dependencies only; workspace symlinks point at the three workspace folders copied below.
COPY --from=prod-tree /app/package.json ./package.json
COPY --from=prod-tree /app/node_modules ./node_modules
COPY --from=prod-tree /app/proto ./proto
COPY --from=prod-tree /app/services/kit ./services/kit
COPY --from=prod-tree /app/services/${SERVICE} ./services/${SERVICE}
ENV SERVICE=${SERVICE}
WORKDIR /app/services/${SERVICE}
# uid/gid of the image's "node" user; numeric so Kubernetes can verify runAsNonRoot.
USER 1000:1000
EXPOSE 9464
# Memory (docs/performance.md), the same as tools/dev/platform.ts NODE_FLAGS and NODE_RUNTIME_ENV:
# a 4 MiB V8 semi-space keeps ~30 MiB less young generation resident per process; a 192 MiB old
# space (about 30 MiB is live) makes V8 collect before ~90 MiB of garbage piles up under load, and
# stays below the smallest overlay's 256 MiB limit; two malloc arenas stop libuv's crypto threads
# from each keeping one (~30 MiB under load).
ENV NODE_OPTIONS="--max-semi-space-size=4 --max-old-space-size=192" MALLOC_ARENA_MAX=2
# node is PID 1 and handles SIGTERM itself (graceful shutdown in the service). The telemetry entry
# point loads first (same start as tools/dev/platform.ts); OTEL_SDK_DISABLED=true turns it off.
ENTRYPOINT ["node", "--enable-source-maps", "--import", "@ordermesh/runtime/telemetry/register", "dist/main.js"]

# ---- migrate: prisma migrate deploy for one service database, used by the migration Jobs -------
# Usage: <image> <service> migrate deploy   (reads DATABASE_URL)
FROM base AS migrate
ARG VERSION=0.0.0-dev
ARG GIT_COMMIT=unknown
ARG BUILD_DATE=unknown
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates openssl \
 && rm -rf /var/lib/apt/lists/*
LABEL org.opencontainers.image.title="ordermesh-migrate" \
      org.opencontainers.image.description="ordermesh database migrations (prisma migrate deploy)" \
      org.opencontainers.image.source="https://git.example.com/ordermesh/ordermesh" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${GIT_COMMIT}" \
      org.opencontainers.image.created="${BUILD_DATE}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="ordermesh"
# The prisma CLI is a devDependency, so this image keeps the full build tree.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/tools/prisma ./tools/prisma
COPY --from=build /app/prisma ./prisma
# HOME on the /tmp emptyDir; no update checks or telemetry from a read-only container.
ENV HOME=/tmp \
    CHECKPOINT_DISABLE=1 \
    PRISMA_HIDE_UPDATE_MESSAGE=1
USER 1000:1000
ENTRYPOINT ["node", "tools/prisma/prisma.mjs"]
CMD ["--help"]
