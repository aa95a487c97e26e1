# syntax=docker/dockerfile:1
# The gateway and the five reference backends, one image (compose picks the command).
#   docker build -t personalisation-gateway .
#   docker compose up
# Stages: assets (npm ci of the pinned GraphiQL files) -> builder (uv sync --frozen of the
# locked runtime dependencies) -> runtime (python:3.11-slim, non-root, no build tools).

ARG PYTHON_IMAGE=python:3.11-slim
ARG NODE_IMAGE=node:20-slim

# ---- GraphiQL's browser assets, from package-lock.json (served locally, never a CDN) ----
FROM ${NODE_IMAGE} AS assets
WORKDIR /src/gateway/graphiql
COPY gateway/graphiql/package.json gateway/graphiql/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error --omit=dev

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
RUN uv sync --frozen --no-dev

# ---- Runtime ----
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="personalisation-gateway" \
      org.opencontainers.image.description="GraphQL personalisation gateway and reference backends"
ENV PATH=/app/.venv/bin:$PATH \
    VIRTUAL_ENV=/app/.venv \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PGW_DEMO_CACHE_DIR=/var/cache/pgw \
    PGW_DEMO_SECRET_FILE=/var/cache/pgw/demo-jwt-secret
WORKDIR /app
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app \
 && mkdir -p /var/cache/pgw \
 && chown 10001:10001 /var/cache/pgw
COPY --from=builder /app/.venv /app/.venv
COPY --from=builder /app/pyproject.toml /app/uv.lock /app/README.md ./
COPY --from=builder /app/gateway ./gateway
COPY --from=builder /app/schema ./schema
COPY --from=builder /app/resolvers ./resolvers
COPY --from=builder /app/clients ./clients
COPY --from=builder /app/backends ./backends
COPY --from=builder /app/tools ./tools
# Only the four files gateway/graphiql.py serves, not the whole node_modules.
COPY --from=assets /src/gateway/graphiql/node_modules/react/umd/react.production.min.js ./gateway/graphiql/node_modules/react/umd/
COPY --from=assets /src/gateway/graphiql/node_modules/react-dom/umd/react-dom.production.min.js ./gateway/graphiql/node_modules/react-dom/umd/
COPY --from=assets /src/gateway/graphiql/node_modules/graphiql/graphiql.min.js /src/gateway/graphiql/node_modules/graphiql/graphiql.min.css ./gateway/graphiql/node_modules/graphiql/
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["python","-m","gateway","serve","--host","0.0.0.0","--port","8000","--workers","2"]
