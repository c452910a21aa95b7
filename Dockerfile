# The production image, in two stages.
# build: the hash-locked runtime dependencies (requirements.lock), then the wheel of this project, whose
#        package data (pyproject.toml) carries the message catalogs, pages, sanctions data and Alembic
#        revisions (tests/integration/test_packaging.py installs the same wheel outside the checkout).
# run:   only the virtualenv, a non-root user, production by default, and a health check.
# .dockerignore keeps .env, local databases and tests out of the build context.
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY requirements.lock ./
RUN python -m venv /opt/kibeti && /opt/kibeti/bin/pip install --require-hashes -r requirements.lock
COPY . .
RUN /opt/kibeti/bin/pip install --no-deps .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/kibeti/bin:$PATH \
    KIBETI_ENV=production DATA_DIR=/var/lib/kibeti
RUN useradd --create-home --uid 10001 kibeti \
    && mkdir -p /var/lib/kibeti /var/run/kibeti-metrics \
    && chown kibeti /var/lib/kibeti /var/run/kibeti-metrics
COPY --from=build /opt/kibeti /opt/kibeti
WORKDIR /var/lib/kibeti
USER kibeti
EXPOSE 8000
# The API's liveness; workers and the scheduler override it in docker-compose.yml (`kibeti doctor`).
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request as u; sys.exit(u.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
CMD ["kibeti", "serve", "--host", "0.0.0.0", "--port", "8000"]
