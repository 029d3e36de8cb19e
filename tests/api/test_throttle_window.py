"""The token budget as a sliding window over two fixed-window counters (cartportal/api/auth.py TokenRateThrottle):
the previous window counts for the share of it still within the last minute, a refused request is not counted, and
Retry-After says when the next request fits. The clock is the throttle's own (`timer`), set by the test."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from cartportal.api.auth import TokenRateThrottle


@pytest.fixture
def clock(monkeypatch, settings):
    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], token="3/min")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    now = {"t": 60.0 * 1_000_000}  # the start of a minute window
    monkeypatch.setattr(TokenRateThrottle, "timer", lambda self: now["t"])
    cache.clear()
    yield now
    cache.clear()


def _statuses(client, count):
    return [client.get("/api/v1/regions/").status_code for _ in range(count)]


def test_the_previous_window_counts_for_its_share_still_within_the_last_minute(world, clock):
    client = Client(HTTP_AUTHORIZATION=f"Token {world.partner_token_key}")
    start = clock["t"]

    assert _statuses(client, 4) == [200, 200, 200, 429]

    clock["t"] = start + 60 + 30  # half of the next window gone: the three earlier requests weigh 1.5
    assert _statuses(client, 2) == [200, 429]  # 1.5 + 1 fits in 3, 1.5 + 2 does not

    clock["t"] = start + 60 + 59  # the earlier window weighs almost nothing now
    assert _statuses(client, 2) == [200, 429]  # 0.05 + 2 fits, 0.05 + 3 does not

    clock["t"] = start + 120 + 1  # the window before (2 requests) weighs 59/60; the first one is forgotten
    assert _statuses(client, 2) == [200, 429]

    clock["t"] = start + 240  # nothing within the last minute
    assert _statuses(client, 4) == [200, 200, 200, 429]


def test_a_refused_request_is_not_counted_and_retry_after_says_when_the_next_fits(world, clock):
    client = Client(HTTP_AUTHORIZATION=f"Token {world.partner_token_key}")
    start = clock["t"]
    assert _statuses(client, 3) == [200, 200, 200]

    refused = [client.get("/api/v1/regions/") for _ in range(5)]
    assert {r.status_code for r in refused} == {429}
    assert refused[-1].json()["error"]["code"] == "throttled"
    # the five refusals left the count at three: at 40 s into the next window the three weigh exactly 1
    clock["t"] = start + 60 + 40
    assert _statuses(client, 3) == [200, 200, 429]

    clock["t"] = start + 120 + 10  # the window before has two requests: 2 * 50/60 + 0 + 1 > 3 is false
    assert _statuses(client, 1) == [200]
    wait = int(client.get("/api/v1/regions/").headers["Retry-After"])
    # 2 * (1 - e) + 1 + 1 <= 3 once e >= 0.5, at 30 s into the window: 20 s from now
    assert 19 <= wait <= 21
