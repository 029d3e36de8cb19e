"""Load shedding in front of Django: a saturated web process answers 503 with Retry-After at once instead of
queueing requests that their clients will have abandoned by the time they are served.

gunicorn's threaded worker accepts connections as long as it holds fewer than `worker_connections` and hands each
to its thread pool, whose queue has no bound: under overload, requests wait there (and then in the kernel's
backlog) for tens of seconds and are served after the client has gone. So the worker runs more threads than
Django may use at once (`gunicorn.conf.py`), and this WSGI middleware, outside Django, lets a request into Django
only when it gets one of the process's slots, after at most a short wait in a queue it joins only when its expected
wait (from the lane's recent service times) is short. Who would wait too long, finds the queue full, or times out is
answered 503 with Retry-After without touching the database; so is a request that
already waited longer than its client would (`QueueTimedThreadWorker` stamps when a request entered the thread
pool's queue). Lanes keep their own slots: `/healthz` is always served by a small lane of its own, static files by
another, the rest shares the main lane.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from gunicorn.workers.gthread import ThreadWorker
from psycopg import errors as pg_errors

ENQUEUED_AT = "cartportal.enqueued_at"  # environ key: time.monotonic() when the request entered the queue

HEALTH_WAIT_SECONDS = 1.0  # a health check waits this long for its lane: a monitor rather waits than sees a 503
HEALTH_QUEUE = 8

_queued = threading.local()


class QueueTimedThreadWorker(ThreadWorker):
    """gunicorn's threaded worker that tells the application when each request entered the thread pool's queue
    (accepted, or readable again on a kept-alive connection), as `environ["cartportal.enqueued_at"]`."""

    def enqueue_req(self, conn):
        conn.cartportal_enqueued_at = time.monotonic()
        super().enqueue_req(conn)

    def handle(self, conn):
        _queued.at = getattr(conn, "cartportal_enqueued_at", None)
        return super().handle(conn)

    def load_wsgi(self):
        super().load_wsgi()
        app = self.wsgi

        def stamped(environ, start_response):
            environ[ENQUEUED_AT] = getattr(_queued, "at", None)
            return app(environ, start_response)

        self.wsgi = stamped


@dataclass
class Lane:
    """A number of requests a process serves at once (`slots`). When they are busy, a request waits for one to free
    up when its expected wait (the requests ahead of it times the lane's recent service time, shared by the slots)
    is under `wait` seconds and fewer than `queue` requests wait already; it waits at most `wait` seconds. Any other
    request is turned away at once. So a short burst of quick requests queues for a few milliseconds instead of being
    shed, while under a sustained overload the wait stays bounded and the excess is answered 503 at once."""

    name: str
    slots: int
    wait: float
    queue: int
    prefixes: tuple[str, ...] = ()
    exact: tuple[str, ...] = ()
    semaphore: threading.BoundedSemaphore = field(init=False, repr=False)
    waiting: int = field(init=False, default=0)
    service_seconds: float = field(init=False, default=0.0)  # moving average of the time a request holds a slot
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    SMOOTHING = 0.1  # weight of the newest request in the moving average (about the last twenty count)

    def __post_init__(self) -> None:
        if self.slots < 1:
            raise ValueError(f"the {self.name} lane needs at least one slot")
        self.semaphore = threading.BoundedSemaphore(self.slots)

    def matches(self, path: str) -> bool:
        return path in self.exact or path.startswith(self.prefixes)

    def expected_wait(self) -> float:
        """Seconds a request joining the queue now would wait: those ahead of it and itself, `slots` at a time."""
        return (self.waiting + 1) * self.service_seconds / self.slots

    def enter(self) -> bool:
        """Take a slot, waiting in the lane's queue when the wait is expected to be short; False when the request
        is to be shed."""
        if self.semaphore.acquire(blocking=False):
            return True
        with self._lock:
            if self.waiting >= self.queue or self.expected_wait() >= self.wait:
                return False
            self.waiting += 1
        try:
            return self.semaphore.acquire(timeout=self.wait)
        finally:
            with self._lock:
                self.waiting -= 1

    def served(self, seconds: float) -> None:
        """Record how long a request held its slot (feeds the expected wait). A request longer than the wait limit
        counts as that long: it says the lane is slow, and one long export should not shed the quick requests that
        follow it for a long while."""
        seconds = min(seconds, self.wait) if self.wait > 0 else seconds
        with self._lock:
            if self.service_seconds == 0.0:
                self.service_seconds = seconds
            else:
                self.service_seconds += self.SMOOTHING * (seconds - self.service_seconds)

    def leave(self, started: float) -> None:
        self.served(time.monotonic() - started)
        self.semaphore.release()


class LoadShedding:
    """WSGI middleware: a request runs only in a free slot of its lane, else it is answered 503 + Retry-After."""

    def __init__(
        self,
        app: Callable,
        *,
        lanes: list[Lane],
        default: Lane,
        max_queue_seconds: float,
        retry_after_seconds: int,
    ) -> None:
        self.app = app
        self.lanes = lanes
        self.default = default
        self.max_queue_seconds = max_queue_seconds
        self.retry_after = str(max(1, int(retry_after_seconds)))
        self.shed_count = 0  # per process, for the curious (not exposed)

    def lane_for(self, path: str) -> Lane:
        return next((lane for lane in self.lanes if lane.matches(path)), self.default)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        lane = self.lane_for(environ.get("PATH_INFO", ""))
        enqueued_at = environ.get(ENQUEUED_AT)
        if enqueued_at is not None and time.monotonic() - enqueued_at > self.max_queue_seconds:
            return self.shed(environ, start_response, "The request waited too long in the queue.")
        if not lane.enter():
            return self.shed(environ, start_response, "The server is busy.")
        started = time.monotonic()
        release = _Once(lambda: lane.leave(started))
        try:
            result = self.app(environ, start_response)
        except BaseException:
            release()
            raise
        return _ReleasingIterable(result, release)

    def shed(self, environ: dict, start_response: Callable, reason: str) -> list[bytes]:
        self.shed_count += 1
        message = f"{reason} Please retry in {self.retry_after} s."
        if environ.get("PATH_INFO", "").startswith("/api/"):
            error = {"status": 503, "code": "unavailable", "message": message, "fields": {}}
            body, content_type = json.dumps({"error": error}).encode(), "application/json"
        else:
            body, content_type = f"{message}\n".encode(), "text/plain; charset=utf-8"
        start_response(
            "503 Service Unavailable",
            [
                ("Content-Type", content_type),
                ("Content-Length", str(len(body))),
                ("Retry-After", self.retry_after),
                ("Cache-Control", "no-store"),
            ],
        )
        return [body]


class _Once:
    def __init__(self, fn: Callable[[], None]) -> None:
        self.fn, self.lock, self.done = fn, threading.Lock(), False

    def __call__(self) -> None:
        with self.lock:
            if self.done:
                return
            self.done = True
        self.fn()


class _ReleasingIterable:
    """Hands the response through and gives the slot back when the server closes it (after the last byte)."""

    def __init__(self, result: Iterable[bytes], release: Callable[[], None]) -> None:
        self.result, self.release = result, release

    def __iter__(self):
        return iter(self.result)

    def close(self) -> None:
        try:
            close = getattr(self.result, "close", None)
            if close is not None:
                close()
        finally:
            self.release()


def shed_load(app: Callable, settings) -> LoadShedding:
    """The middleware configured from Django settings (`CARTPORTAL_WEB_*`, see README "Capacity")."""
    wait, queue = settings.CARTPORTAL_WEB_SLOT_WAIT_SECONDS, settings.CARTPORTAL_WEB_QUEUE
    health_wait = max(wait, HEALTH_WAIT_SECONDS)
    static = settings.STATIC_URL if settings.STATIC_URL.startswith("/") else "/" + settings.STATIC_URL
    return LoadShedding(
        app,
        lanes=[
            Lane("health", settings.CARTPORTAL_WEB_HEALTH_SLOTS, health_wait, HEALTH_QUEUE, exact=("/healthz",)),
            Lane("static", settings.CARTPORTAL_WEB_STATIC_SLOTS, wait, queue * 4, prefixes=(static,)),
        ],
        default=Lane("main", settings.CARTPORTAL_WEB_SLOTS, wait, queue),
        max_queue_seconds=settings.CARTPORTAL_WEB_MAX_QUEUE_SECONDS,
        retry_after_seconds=settings.CARTPORTAL_WEB_RETRY_AFTER_SECONDS,
    )


def database_unavailable(error: BaseException | None) -> str | None:
    """Why a request cannot be served now when the database is the reason, else None: a statement cancelled by
    CARTPORTAL_STATEMENT_TIMEOUT_SECONDS, or a database that is restarting or cannot be reached (Django wraps
    psycopg's errors; SQLSTATE class 08 is a connection failure, 57 an operator intervention such as a shutdown)."""
    if error is None:
        return None
    cause = error if isinstance(error, pg_errors.Error) else error.__cause__
    if isinstance(cause, pg_errors.QueryCanceled):
        return STATEMENT_TIMEOUT_MESSAGE
    if isinstance(cause, (pg_errors.OperationalError, pg_errors.InterfaceError)):
        state = cause.sqlstate or ""
        if not state or state.startswith(("08", "57")):
            return DATABASE_UNAVAILABLE_MESSAGE
    return None


STATEMENT_TIMEOUT_MESSAGE = "The request took too long and was stopped. Please retry later."
DATABASE_UNAVAILABLE_MESSAGE = "The database is not available right now. Please retry in a moment."
