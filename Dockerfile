# syntax=docker/dockerfile:1
# The gateway's image (the last stage, `runtime`) and the reference backends' (`backends`:
# the same packages plus the `backends` extra, numpy and scikit-learn, which the gateway's
# image does not carry).
#   docker build -t personalisation-gateway .
#   docker build --target backends -t personalisation-gateway-backends .
#   docker compose up
# Stages: assets (npm ci of the pinned GraphiQL files) -> builder (uv sync --frozen of the
# locked runtime dependencies, then the project installed as its wheel, GraphiQL's files
# inside) -> runtime (python:3.11-slim, non-root, no build tools, no source tree: only the
# virtual environment, as tests/runtime/test_wheel_as_non_root.py runs it).

ARG PYTHON_IMAGE=python:3.11-slim
ARG NODE_IMAGE=node:20-slim

# ---- GraphiQL's bundle, built from package-lock.json with esbuild (served locally, no CDN) ----
FROM ${NODE_IMAGE} AS assets
WORKDIR /src/gateway/graphiql
COPY gateway/graphiql/package.json gateway/graphiql/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY gateway/graphiql/build.mjs ./
COPY gateway/graphiql/src ./src
RUN npm run --silent build

# ---- Python dependencies from uv.lock into /app/.venv ----
FROM ${PYTHON_IMAGE} AS builder
ARG UV_VERSION=0.13.9
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
RUN pip install uv==${UV_VERSION}
WORKDIR /app
# Dependencies first (cached while only the code changes), then the project itself.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY gateway ./gateway
COPY schema ./schema
COPY resolvers ./resolvers
COPY clients ./clients
COPY backends ./backends
COPY tools ./tools
COPY --from=assets /src/gateway/graphiql/dist ./gateway/graphiql/dist
RUN uv sync --frozen --no-dev --no-editable

# ---- The reference backends' environment: the same, plus their models' libraries ----
FROM builder AS backends-builder
RUN uv sync --frozen --no-dev --no-editable --extra backends

# ---- The reference backends (compose picks which one with the command) ----
FROM ${PYTHON_IMAGE} AS backends
ENV PATH=/app/.venv/bin:$PATH \
    VIRTUAL_ENV=/app/.venv \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PGW_DEMO_CACHE_DIR=/var/cache/pgw
WORKDIR /app
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app \
 && mkdir -p /var/cache/pgw \
 && chown 10001:10001 /var/cache/pgw
COPY --from=backends-builder /app/.venv /app/.venv
USER 10001
CMD ["python","-m","backends","serve","all","--host","0.0.0.0"]

# ---- Runtime ----
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="personalisation-gateway" \
      org.opencontainers.image.description="GraphQL personalisation gateway and reference backends"
ENV PATH=/app/.venv/bin:$PATH \
    VIRTUAL_ENV=/app/.venv \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PGW_DEMO_CACHE_DIR=/var/cache/pgw \
    PGW_DEMO_SECRET_FILE=/var/cache/pgw/demo-jwt-secret \
    PGW_DECISION_LOG_PATH=/var/lib/pgw/decisions.jsonl \
    PGW_EVENTS_OUTBOX_PATH=/var/lib/pgw/outbox.sqlite3
WORKDIR /app
# Writable by the app's uid: the demo cache and the gateway's state (decision log, local
# outbox); everything else, /app included, stays root-owned.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app \
 && mkdir -p /var/cache/pgw /var/lib/pgw \
 && chown 10001:10001 /var/cache/pgw /var/lib/pgw
COPY --from=builder /app/.venv /app/.venv
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["python","-m","gateway","serve","--host","0.0.0.0","--port","8000","--workers","2"]
