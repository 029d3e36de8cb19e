"""One token, one budget across gunicorn workers: how many requests a token gets through per minute.

    .venv/bin/python bench/api_throttle.py [--workers 4] [--rate 40] [--requests 200] [--compare-local-memory]

Starts gunicorn on 127.0.0.1 with N workers and API_TOKEN_RATE=<rate>/min, sends `--requests` GETs to
/api/v1/regions/ with one fresh read token, each on a new connection (so the kernel spreads them over the
workers), and counts 200 and 429 answers. With the counters in the shared Redis cache the token gets exactly
`rate` requests (ratio allowed/limit = 1.00); with `--compare-local-memory` the same run is repeated with a
per-process cache, where every worker keeps its own count and the token gets up to workers x rate. Prints one
line per run and a JSON line at the end. Only loopback addresses are contacted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api import _free_port, _wait_ready  # noqa: E402


def _token() -> str:
    """A fresh read token bound to every region (a new token starts with an empty budget)."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from cartportal import access
    from cartportal.models import PartnerToken, Region

    region, _ = Region.objects.get_or_create(code="BENCH", defaults={"name": "Bench"})
    user, _ = get_user_model().objects.get_or_create(username="bench-partner")
    user.groups.add(access.ensure_role_groups()[access.PARTNER])
    access.grant_region(user, region, access.PARTNER)
    key = PartnerToken.new_key()
    token = PartnerToken.objects.create(
        name="bench-throttle", user=user, scopes=["read"], key_prefix=key[:10], key_hash=PartnerToken.hash_key(key)
    )
    token.regions.set([region])
    return key


def _statuses(base: str, key: str, count: int) -> dict[int, int]:
    counts: dict[int, int] = {}
    for _ in range(count):
        request = urllib.request.Request(f"{base}/api/v1/regions/", headers={"Authorization": f"Token {key}"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        counts[status] = counts.get(status, 0) + 1
    return counts


def _run(args, cache_url: str | None) -> dict:
    env = {**os.environ, "API_TOKEN_RATE": f"{args.rate}/min"}
    if cache_url:
        env["CACHE_URL"] = cache_url
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    gunicorn = [str(Path(sys.executable).parent / "gunicorn"), "cartportal.wsgi", "--bind", f"127.0.0.1:{port}"]
    gunicorn += ["--workers", str(args.workers), "--log-level", "warning"]
    server = subprocess.Popen(gunicorn, cwd=ROOT, env=env, start_new_session=True)
    try:
        _wait_ready(f"{base}/healthz")
        counts = _statuses(base, _token(), args.requests)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    allowed = counts.get(200, 0)
    return {
        "cache": "local memory" if cache_url else "redis",
        "allowed": allowed,
        "throttled": counts.get(429, 0),
        "other": args.requests - allowed - counts.get(429, 0),
        "ratio": round(allowed / args.rate, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rate", type=int, default=40, help="the token's limit per minute")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--compare-local-memory", action="store_true")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartportal.settings")
    from cartportal.devservices import ensure_env

    ensure_env()
    os.environ.update({"DEBUG": "0", "ALLOWED_HOSTS": "127.0.0.1,localhost", "SECURE_SSL_REDIRECT": "0"})
    migrate_env = {**os.environ, "CARTPORTAL_DB_AS_OWNER": "1"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=migrate_env, check=True
    )
    runs = [_run(args, None)] + ([_run(args, "locmem://")] if args.compare_local_memory else [])
    for run in runs:
        print(
            f"{run['cache']:12s} {args.workers} workers, limit {args.rate}/min: {run['allowed']} of {args.requests}"
            f" allowed, {run['throttled']} throttled, {run['other']} other (allowed/limit {run['ratio']:.2f})"
        )
    print(json.dumps({"workers": args.workers, "rate_per_min": args.rate, "requests": args.requests, "runs": runs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
