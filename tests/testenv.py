"""Test-suite environment (loaded as an early plugin, before Django reads its settings): real PostgreSQL

Set before Django reads its settings: the suite runs as the database owner (it creates the test
database and migrates it); code under test that must run as the application role opens its own
connection (see tests/cartportal/test_audit_protection.py and the worker fixture).
"""

import os
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("CARTPORTAL_DB_AS_OWNER", "1")
os.environ.setdefault("STATICFILES_BACKEND", "django.contrib.staticfiles.storage.StaticFilesStorage")
os.environ.setdefault("CELERY_TASK_DEFAULT_QUEUE", f"cartportal-test-{uuid.uuid4().hex[:8]}")
# Cache keys (API throttle counters) of one test session never meet those of an earlier one in the same Redis.
os.environ.setdefault("CACHE_KEY_PREFIX", f"cp-test-{uuid.uuid4().hex[:8]}:")

# Test people's passwords are hashed with a fast hasher (the default's key stretching costs about 0.4 s per password,
# seven times per test that builds the usual cast); set in the environment so worker and server processes agree.
os.environ.setdefault("PASSWORD_HASHERS", "django.contrib.auth.hashers.MD5PasswordHasher")
# A test shop is tiny: its rollups always follow new data in the request, however loaded the machine is (the
# refresh-by-task path of large shops is tested by setting this to 0).
os.environ.setdefault("PORTAL_ROLLUP_SYNC_SECONDS", "60")
# The suite empties the audit table between tests, so anchors are off unless a test points them at its own file.
os.environ.setdefault("CARTPORTAL_AUDIT_ANCHOR_FILE", "")

from cartportal.devservices import ensure_env  # noqa: E402

ensure_env()

# Run in parallel (`-n 2`, pytest-xdist), each test process has its own database (pytest-django), queue and worker
# log, its own cache database (a test's cache.clear() flushes only its own) and its own upload folder (uploads are
# named by job id, and each database counts its jobs from 1).
_xdist = os.environ.get("PYTEST_XDIST_WORKER", "")
if _xdist:
    _cache_db = 3 + int("".join(ch for ch in _xdist if ch.isdigit()) or 0)
    os.environ["CELERY_TASK_DEFAULT_QUEUE"] = f"{os.environ['CELERY_TASK_DEFAULT_QUEUE']}-{_xdist}"
    os.environ["CACHE_KEY_PREFIX"] = f"{os.environ['CACHE_KEY_PREFIX']}{_xdist}:"
    os.environ["CACHE_REDIS_DB"] = str(_cache_db)
    if os.environ.get("CACHE_URL", "").startswith(("redis://", "rediss://")):
        _cache = urlsplit(os.environ["CACHE_URL"])
        os.environ["CACHE_URL"] = urlunsplit((_cache.scheme, _cache.netloc, f"/{_cache_db}", _cache.query, ""))
    os.environ["MEDIA_ROOT"] = str(Path(__file__).resolve().parents[1] / ".data" / f"test-media-{_xdist}")
