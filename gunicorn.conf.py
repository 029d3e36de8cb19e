"""gunicorn settings of the web server (`./run.sh` serves with them: gunicorn -c gunicorn.conf.py cartportal.wsgi).

Sized from the machine: one worker process per core (at least 2), each with threads for the requests Django may
serve at once (CARTPORTAL_WEB_SLOTS, read by cartportal/capacity.py too), the /healthz and static lanes, and
headroom to answer the overflow with 503 + Retry-After quickly instead of queueing it. Every knob can be set in the
environment (README, "Capacity").
"""

import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


_slots = (
    _int("CARTPORTAL_WEB_SLOTS", 1) + _int("CARTPORTAL_WEB_HEALTH_SLOTS", 2) + _int("CARTPORTAL_WEB_STATIC_SLOTS", 4)
)

# The web workers' requests end within the client's patience: a database statement is cancelled after 25 s (the
# request then answers 503), below the 60 s of common proxies and browsers.
os.environ.setdefault("CARTPORTAL_STATEMENT_TIMEOUT_SECONDS", "25")

wsgi_app = "cartportal.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
worker_class = "cartportal.capacity.QueueTimedThreadWorker"
workers = _int("GUNICORN_WORKERS", max(2, _cores()))
# Threads beyond the slots only wait briefly for a slot and answer 503 when none frees up.
threads = _int("GUNICORN_THREADS", _slots + _int("GUNICORN_SHED_THREADS", 16))
# Connections one worker holds (in the thread pool's queue, being served, or kept alive).
worker_connections = _int("GUNICORN_WORKER_CONNECTIONS", 1000)
backlog = _int("GUNICORN_BACKLOG", 2048)
# A worker that stops answering its arbiter for this long is restarted; below a browser's or proxy's 60 s.
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
max_requests = _int("GUNICORN_MAX_REQUESTS", 0)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 0)
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
