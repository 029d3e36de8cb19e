import os

import pytest

from tests.base import build_world


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Every test starts with an empty cache (rollups, throttling), whatever an earlier test left there."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def data_dir():
    """The real data sets (CARTPORTAL_DATA_DIR, or ../shared/data beside the checkout)."""
    from pathlib import Path

    configured = os.environ.get("CARTPORTAL_DATA_DIR")
    folder = Path(configured) if configured else Path(__file__).resolve().parents[2] / "shared" / "data"
    if not folder.is_dir():
        pytest.skip("real data sets not available: set CARTPORTAL_DATA_DIR")
    return folder


@pytest.fixture
def celery_worker_process(transactional_db):
    """A real Celery worker process on this suite's own queue, connected to the test database as
    the application role. Yields a handle that can SIGKILL and restart it."""
    from tests.workers import WorkerProcess

    worker = WorkerProcess()
    worker.start()
    yield worker
    worker.stop()


# Markers are given by what a test needs, so a new test is marked without anyone remembering to:
# `worker` starts a real Celery worker process, `browser` drives Chromium, and `slow` covers both plus every test
# that reads the real data sets (and trains on them) or fuzzes the whole API. `./run.sh test -m "not slow"` is the
# quick subset for development; CI runs everything.
SLOW_MODULES = {"test_schemathesis.py", "test_matrix.py"}


# A test marked `exclusive` disturbs what every test process shares (it restarts the database server), so it never
# runs beside another test: `./run.sh test` runs the rest in parallel (--exclusive=skip), then these on their own
# (--exclusive=only). In a parallel run that was not told, they are skipped with that reason rather than run.
def pytest_addoption(parser):
    parser.addoption(
        "--exclusive",
        choices=("include", "skip", "only"),
        default="include",
        help="tests marked exclusive: run them with the rest (include), leave them out (skip) or run only them (only)",
    )


def _select_exclusive(config, items):
    mode = config.getoption("--exclusive")
    if mode == "include":
        if os.environ.get("PYTEST_XDIST_WORKER"):
            reason = "restarts what parallel test processes share: run on its own (./run.sh test does, after the rest)"
            for item in items:
                if item.get_closest_marker("exclusive"):
                    item.add_marker(pytest.mark.skip(reason=reason))
        return
    keep, drop = [], []
    for item in items:
        (keep if bool(item.get_closest_marker("exclusive")) == (mode == "only") else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_collection_modifyitems(config, items):
    _select_exclusive(config, items)
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if "celery_worker_process" in fixtures:
            item.add_marker(pytest.mark.worker)
        needs_process = item.get_closest_marker("worker") or item.get_closest_marker("browser")
        if needs_process or "data_dir" in fixtures or item.path.name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
