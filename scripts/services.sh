#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) are up for the tests.
# Starts them when installed but stopped; says exactly how to install them when missing.
set -u

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && ls /etc/postgresql >/dev/null 2>&1; then
    echo "Starting PostgreSQL ..."
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  else
    echo "PostgreSQL is not installed. Install it with:" >&2
    echo "  sudo apt-get install -y postgresql   (Debian/Ubuntu), then allow trust auth for 127.0.0.1" >&2
    echo "  and create the database: sudo -u postgres createdb test" >&2
    exit 1
  fi
fi
pg_up || { echo "PostgreSQL did not start on 127.0.0.1:5432" >&2; exit 1; }

if ! redis_up; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "Starting Redis ..."
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
    for _ in $(seq 1 30); do redis_up && break; sleep 0.5; done
  else
    echo "Redis is not installed. Install it with:" >&2
    echo "  sudo apt-get install -y redis-server   (Debian/Ubuntu)" >&2
    exit 1
  fi
fi
redis_up || { echo "Redis did not start on 127.0.0.1:6379" >&2; exit 1; }

# The operations tests run the real nginx and promtool (Debian's packages); they are not services.
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ] || ! command -v promtool >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing nginx and prometheus (promtool) for the operations tests ..."
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light prometheus >/dev/null \
      || { echo "apt-get could not install nginx-light prometheus" >&2; exit 1; }
    # the packages' own daemons are not wanted: the tests start what they need themselves
    pkill -x prometheus 2>/dev/null; pkill -x nginx 2>/dev/null; true
  else
    echo "nginx and promtool are missing. Install them with:" >&2
    echo "  sudo apt-get install -y nginx-light prometheus   (Debian/Ubuntu)" >&2
    exit 1
  fi
fi
# The browser tests drive Debian's Chromium (Playwright's own browser download cannot work offline).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Chromium for the browser tests ..."
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
      || { echo "apt-get could not install chromium" >&2; exit 1; }
  else
    echo "Chromium is missing. Install it with:" >&2
    echo "  sudo apt-get install -y chromium   (Debian/Ubuntu)" >&2
    exit 1
  fi
fi
echo "PostgreSQL and Redis are up; nginx, promtool and Chromium are installed."
