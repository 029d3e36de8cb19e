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
    import os
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


def pytest_collection_modifyitems(config, items):
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if "celery_worker_process" in fixtures:
            item.add_marker(pytest.mark.worker)
        needs_process = item.get_closest_marker("worker") or item.get_closest_marker("browser")
        if needs_process or "data_dir" in fixtures or item.path.name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
