"""One error model: an application error answers the status of its code (the same table for pages and the API);
anything unexpected inside a view is a logged 500 in the one error shape, never a 400."""

from __future__ import annotations

import logging

import pytest
from django.test import Client, RequestFactory

from cartportal.api import views as api_views
from cartportal.errors import STATUS_BY_CODE, AppError, status_for
from cartportal.middleware import AppErrorMiddleware
from cartportal.services import DomainError
from predictions.services import PredictionError
from segments.services import SegmentError

pytestmark = pytest.mark.django_db


def _client(world) -> Client:
    client = Client()
    client.force_login(world.manager_a)
    return client


def _error(response, status: int) -> dict:
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"status", "code", "message", "fields"}
    assert body["error"]["status"] == status
    return body["error"]


def _breaks(monkeypatch, exc: Exception) -> None:
    def broken(self, *args, **kwargs):
        raise exc

    monkeypatch.setattr(api_views.RegionViewSet, "list", broken)


@pytest.mark.parametrize("exc", [TypeError("unsupported operand"), ValueError("bad cast"), KeyError("missing")])
def test_a_programming_error_in_an_api_view_is_a_logged_500(world, monkeypatch, caplog, exc):
    _breaks(monkeypatch, exc)
    with caplog.at_level(logging.ERROR, logger="cartportal.api.base"):
        error = _error(_client(world).get("/api/v1/regions/"), 500)
    assert error["code"] == "server_error" and "logged" in error["message"]
    assert str(exc) not in error["message"]  # internals stay in the log
    logged = [r for r in caplog.records if r.name == "cartportal.api.base" and r.levelno == logging.ERROR]
    assert len(logged) == 1 and logged[0].exc_info[1] is exc
    assert "/api/v1/regions/" in logged[0].getMessage()


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (DomainError("not allowed in this state", code="invalid_state"), 409, "invalid_state"),
        (DomainError("the kill switch is engaged", code="kill_switch"), 409, "kill_switch"),
        (DomainError("bad name"), 400, "invalid"),
        (PredictionError("This version is already active."), 409, "conflict"),
        (SegmentError("Unknown universe"), 400, "invalid"),
        (AppError("only an executive may", code="forbidden"), 403, "forbidden"),
    ],
)
def test_an_application_error_answers_the_status_of_its_code(world, monkeypatch, exc, status, code):
    _breaks(monkeypatch, exc)
    error = _error(_client(world).get("/api/v1/regions/"), status)
    assert error["code"] == code and error["message"] == exc.message


def test_pages_use_the_same_table(world):
    request = RequestFactory().get("/interventions/")
    request.user = world.manager_a
    middleware = AppErrorMiddleware(lambda r: None)
    for code, status in STATUS_BY_CODE.items():
        response = middleware.process_exception(request, AppError(f"refused: {code}", code=code))
        assert response.status_code == status == status_for(code)
        # a 404 page looks like any missing object's; every other refusal says why
        assert (f"refused: {code}" in response.content.decode()) == (status != 404)
    assert middleware.process_exception(request, TypeError("a bug")) is None  # Django's 500 handler logs it
