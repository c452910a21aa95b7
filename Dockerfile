# The production image: `pip install .` builds the wheel, whose package data (pyproject.toml) carries
# the message catalogs, pages, sanctions data and Alembic revisions; tests/integration/test_packaging.py
# installs that same wheel outside the checkout and dials USSD with it. .dockerignore keeps .env,
# local databases and tests out of the build context.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY . .
# The source is removed once installed: the image runs the installed package, as the test does.
RUN pip install --no-cache-dir . && cd / && rm -rf /src

RUN useradd --create-home --uid 10001 kibeti && mkdir -p /var/lib/kibeti && chown kibeti /var/lib/kibeti
WORKDIR /var/lib/kibeti
# Production unless told otherwise: every process then refuses default secrets, demo rates and simulators.
ENV KIBETI_ENV=production DATA_DIR=/var/lib/kibeti
USER kibeti

EXPOSE 8000
CMD ["kibeti", "serve", "--host", "0.0.0.0", "--port", "8000"]
