"""Load shedding (cartportal/capacity.py): a request that finds every slot of its lane busy is answered 503 with
Retry-After without reaching Django; /healthz keeps its own slot; a request that waited too long in the server's
queue is dropped. Slots are held with events, so nothing here depends on how fast the machine is."""

from __future__ import annotations

import json
import threading
import time

import pytest

from cartportal.capacity import ENQUEUED_AT, Lane, LoadShedding


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class HoldingApp:
    """A WSGI app that holds `/hold` until released, answers everything else at once, and counts its calls."""

    def __init__(self):
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls: list[str] = []

    def __call__(self, environ, start_response):
        path = environ["PATH_INFO"]
        self.calls.append(path)
        if path == "/hold":
            self.entered.set()
            self.release.wait(30)
        if path == "/boom":
            raise RuntimeError("boom")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]


def shedding(app, *, slots=1, wait=0.0, queue=0, max_queue=5.0):
    return LoadShedding(
        app,
        lanes=[Lane("health", 1, wait, 0, exact=("/healthz",)), Lane("static", 1, wait, 0, prefixes=("/static/",))],
        default=Lane("main", slots, wait, queue),
        max_queue_seconds=max_queue,
        retry_after_seconds=3,
    )


def call(wsgi, path, **extra):
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, dict(headers)

    result = wsgi({"PATH_INFO": path, "REQUEST_METHOD": "GET", **extra}, start_response)
    body = b"".join(result)
    if hasattr(result, "close"):
        result.close()
    return int(seen["status"].split()[0]), seen["headers"], body


@pytest.fixture
def held():
    """The only main slot held by a request in another thread; released (and joined) at the end."""
    app = HoldingApp()
    wsgi = shedding(app)
    holder = threading.Thread(target=call, args=(wsgi, "/hold"))
    holder.start()
    assert app.entered.wait(30), "the holding request never reached the application"
    yield app, wsgi
    app.release.set()
    holder.join(30)


def test_a_request_without_a_free_slot_is_answered_503_with_retry_after_and_never_reaches_the_app(held):
    app, wsgi = held

    status, headers, body = call(wsgi, "/segments/")

    assert status == 503
    assert headers["Retry-After"] == "3"
    assert b"busy" in body
    assert app.calls == ["/hold"]


def test_an_api_request_that_is_shed_gets_the_one_error_shape(held):
    _, wsgi = held

    status, headers, body = call(wsgi, "/api/v1/customers/")

    assert status == 503
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["error"]["code"] == "unavailable"
    assert json.loads(body)["error"]["status"] == 503


def test_healthz_and_static_have_slots_of_their_own(held):
    app, wsgi = held

    assert call(wsgi, "/healthz")[0] == 200
    assert call(wsgi, "/static/css/portal.css")[0] == 200
    assert app.calls == ["/hold", "/healthz", "/static/css/portal.css"]


def test_the_slot_is_given_back_once_the_response_is_closed():
    app = HoldingApp()
    wsgi = shedding(app)
    seen = []
    result = wsgi({"PATH_INFO": "/page"}, lambda status, headers: seen.append(status))

    assert call(wsgi, "/other")[0] == 503  # the first response is not closed yet: its slot is still taken
    result.close()
    result.close()  # a second close gives nothing back twice

    assert call(wsgi, "/other")[0] == 200
    assert wsgi.default.semaphore._value == 1


def test_an_exception_in_the_app_gives_the_slot_back():
    wsgi = shedding(HoldingApp())

    with pytest.raises(RuntimeError):
        call(wsgi, "/boom")

    assert call(wsgi, "/page")[0] == 200


def test_a_request_waits_in_the_queue_for_a_slot_that_frees_up_within_the_wait():
    app = HoldingApp()
    wsgi = shedding(app, wait=30, queue=1)
    holder = threading.Thread(target=call, args=(wsgi, "/hold"))
    holder.start()
    assert app.entered.wait(30)
    answers = []
    waiter = threading.Thread(target=lambda: answers.append(call(wsgi, "/page")[0]))
    waiter.start()
    app.release.set()
    holder.join(30)
    waiter.join(30)

    assert answers == [200]


def test_a_request_that_finds_the_queue_full_is_shed_at_once_however_long_the_wait():
    app = HoldingApp()
    wsgi = shedding(app, wait=30, queue=1)
    holder = threading.Thread(target=call, args=(wsgi, "/hold"))
    holder.start()
    assert app.entered.wait(30)
    answers = []
    waiter = threading.Thread(target=lambda: answers.append(call(wsgi, "/page")[0]))
    waiter.start()
    deadline = time.monotonic() + 30
    while wsgi.default.waiting < 1 and time.monotonic() < deadline:  # until the waiter is in the queue
        time.sleep(0.01)

    status, headers, _ = call(wsgi, "/third")  # the queue (1) is full: no 30 s wait for this one

    app.release.set()
    holder.join(30)
    waiter.join(30)
    assert status == 503 and headers["Retry-After"] == "3"
    assert answers == [200]
    assert "/third" not in app.calls
    assert wsgi.default.waiting == 0


def test_a_burst_of_quick_requests_queues_for_the_slot_instead_of_being_shed():
    """Admission by expected wait: with recent requests quick (10 ms each), three requests arriving while the slot
    is held all wait for it (the queue allows 16) and are served once it frees up."""
    app = HoldingApp()
    wsgi = shedding(app, wait=30, queue=16)
    wsgi.default.served(0.010)
    holder = threading.Thread(target=call, args=(wsgi, "/hold"))
    holder.start()
    assert app.entered.wait(30)
    answers = []
    waiters = [threading.Thread(target=lambda: answers.append(call(wsgi, "/page")[0])) for _ in range(3)]
    for waiter in waiters:
        waiter.start()
    deadline = time.monotonic() + 30
    while wsgi.default.waiting < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    queued = wsgi.default.waiting

    app.release.set()
    holder.join(30)
    for waiter in waiters:
        waiter.join(30)
    assert queued == 3
    assert answers == [200, 200, 200]
    assert wsgi.default.waiting == 0


def test_a_request_whose_expected_wait_is_too_long_is_shed_at_once_though_the_queue_has_room():
    """Recent requests held the slot 2 s each: one more waiting for a busy slot would expect at least the 0.5 s
    allowed, and one more ahead of it, so it is answered 503 at once instead of waiting 0.5 s and failing anyway."""
    app = HoldingApp()
    wsgi = shedding(app, wait=0.5, queue=16)
    for _ in range(10):
        wsgi.default.served(2.0)  # counted as the wait limit each (0.5 s)
    holder = threading.Thread(target=call, args=(wsgi, "/hold"))
    holder.start()
    assert app.entered.wait(30)

    started = time.monotonic()
    status, headers, _ = call(wsgi, "/page")
    waited = time.monotonic() - started

    app.release.set()
    holder.join(30)
    assert status == 503 and headers["Retry-After"] == "3"
    assert waited < 0.5  # turned away without waiting out the limit
    assert "/page" not in app.calls


def test_the_expected_wait_follows_the_service_times_of_the_lane():
    lane = Lane("main", 2, 0.25, 16)
    assert lane.expected_wait() == 0.0  # nothing measured yet: a waiter is let in
    lane.served(0.100)
    assert lane.expected_wait() == pytest.approx(0.050)  # one request ahead of none, two slots
    for _ in range(200):
        lane.served(0.010)
    assert lane.expected_wait() == pytest.approx(0.005, rel=1e-3)
    lane.served(30.0)  # one long export counts as the wait limit: quick requests after it still queue
    assert lane.service_seconds == pytest.approx(0.010 + 0.1 * (0.25 - 0.010), rel=1e-3)

    wsgi = shedding(HoldingApp())
    for _ in range(50):
        assert call(wsgi, "/page")[0] == 200
    assert 0 < wsgi.default.service_seconds < 1  # measured from the requests the lane served


def test_a_request_that_waited_longer_than_the_limit_in_the_queue_is_dropped_without_reaching_the_app():
    app = HoldingApp()
    wsgi = shedding(app, max_queue=5.0)

    stale = call(wsgi, "/page", **{ENQUEUED_AT: time.monotonic() - 6.0})
    fresh = call(wsgi, "/page", **{ENQUEUED_AT: time.monotonic()})

    assert stale[0] == 503 and stale[1]["Retry-After"] == "3"
    assert fresh[0] == 200
    assert app.calls == ["/page"]


@pytest.mark.django_db
def test_a_statement_cancelled_by_the_timeout_answers_503_with_retry_after_on_pages_and_api(rf):
    """CARTPORTAL_STATEMENT_TIMEOUT_SECONDS (gunicorn.conf.py sets it for web workers) cancels a long statement;
    the request then answers 503 with Retry-After in the one error shape, not a 500."""
    from django.db import OperationalError, connection, transaction

    from cartportal.api.base import exception_handler
    from cartportal.middleware import AppErrorMiddleware

    with pytest.raises(OperationalError) as caught, transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 50")
            cursor.execute("SELECT pg_sleep(5)")

    api = exception_handler(caught.value, {"request": rf.get("/api/v1/customers/"), "view": None})
    page = AppErrorMiddleware(lambda request: None).process_exception(rf.get("/segments/"), caught.value)
    other = AppErrorMiddleware(lambda request: None).process_exception(rf.get("/segments/"), RuntimeError("x"))

    assert api.status_code == 503 and api["Retry-After"] == "2"
    assert api.data["error"]["code"] == "unavailable"
    assert page.status_code == 503 and page["Retry-After"] == "2"
    assert b"took too long" in page.content
    assert other is None  # anything else is still the server's error


def test_a_database_that_cannot_be_reached_answers_503_with_retry_after_not_500(rf):
    """A restarting or unreachable database (here: nothing listens on the port) surfaces as Django's
    OperationalError, in a view or outside one (Django's 500 handler): both answer 503 with Retry-After."""
    import psycopg
    from django.db import OperationalError

    from cartportal.api.base import handler500
    from cartportal.middleware import AppErrorMiddleware

    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect(host="127.0.0.1", port=free_port(), dbname="x", user="x", connect_timeout=5)
    wrapped = OperationalError(str(caught.value))
    wrapped.__cause__ = caught.value

    page = AppErrorMiddleware(lambda request: None).process_exception(rf.get("/healthz"), wrapped)
    try:
        raise wrapped
    except OperationalError:
        api = handler500(rf.get("/api/v1/customers/"))
        other_page = handler500(rf.get("/segments/"))
    try:
        raise OperationalError("syntax error at or near")
    except OperationalError:
        genuine = handler500(rf.get("/segments/"))

    assert page.status_code == 503 and page["Retry-After"] == "2"
    assert b"database is not available" in page.content
    assert api.status_code == 503 and json.loads(api.content)["error"]["code"] == "unavailable"
    assert other_page.status_code == 503 and other_page["Retry-After"] == "2"
    assert genuine.status_code == 500
