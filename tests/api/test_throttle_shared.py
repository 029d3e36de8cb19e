"""The per-token rate is one budget for every web process: the throttle counters live in the shared Redis cache,
so requests answered by another process (another gunicorn worker) count against the same token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
OTHER_PROCESS = """
import sys
import django
django.setup()
from django.test import Client
client = Client(HTTP_AUTHORIZATION="Token " + sys.argv[1])
print(" ".join(str(client.get("/api/v1/regions/").status_code) for _ in range(int(sys.argv[2]))))
"""


def _requests_in_another_process(key: str, count: int) -> list[int]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="cartportal.settings",
        DATABASE_NAME_OVERRIDE=connection.settings_dict["NAME"],
        CARTPORTAL_DB_AS_OWNER="0",
        API_TOKEN_RATE="4/min",
    )
    done = subprocess.run(
        [sys.executable, "-c", OTHER_PROCESS, key, str(count)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return [int(code) for code in done.stdout.split()[-count:]]


@pytest.mark.django_db(transaction=True)
def test_a_token_has_one_budget_across_processes(world, settings):
    assert settings.CACHES["default"]["BACKEND"] == "cartportal.cache.RedisCache"
    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], token="4/min")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    cache.clear()
    here = Client(HTTP_AUTHORIZATION=f"Token {world.partner_token_key}")
    assert [here.get("/api/v1/regions/").status_code for _ in range(2)] == [200, 200]
    assert _requests_in_another_process(world.partner_token_key, 3) == [200, 200, 429]
    last = here.get("/api/v1/regions/")
    assert last.status_code == 429 and last.json()["error"]["code"] == "throttled"
    cache.clear()
