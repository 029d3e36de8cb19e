"""Partner API throughput against a reference endpoint measured in the same run: gunicorn on loopback, wrk.

    .venv/bin/python bench/api.py [--customers 20000] [--step-duration 5] [--duration 15] [--workers 2]

Builds a bench region with N customers (with a published abandonment and value scoring run for them) in the local
database and starts gunicorn on 127.0.0.1 with production settings plus one bench-only URL
(`bench.api_reference.settings`): `/bench/reference/<id>/`, a minimal REST framework view reading one customer by
primary key with its region, without authentication or scoring. Three endpoints are measured:

- reference: `/bench/reference/<random id>/`
- risk: the partner risk lookup `/api/v1/customers/<random id>/risk/` (token authentication, region scope)
- list: the customer list `/api/v1/customers/?region=BENCH&page_size=50` (50 rows with risk, value, segments)
- cart (when an abandonment model is active, e.g. after the demo): live cart scoring `POST /api/v1/carts/score/`
  with a 10-item cart of catalogue products, at the fixed rate only (limit: p95 50 ms, `--cart-p95-limit-ms`)

wrk offers a fixed rate (an open-loop schedule: request n is due at start + n/rate and is sent by whichever
connection is free). Each endpoint's sustainable throughput is the highest offered rate, on a rising ladder of
rates refined by bisection, at which p95 stays under `--p95-limit-ms` (50 ms), nothing fails (non-2xx or socket
errors) and the achieved rate keeps up (at least 95 % of the offered one). Then each endpoint runs for `--duration`
seconds at half the reference's sustainable rate and its p95/p99 there are printed. The last line is one JSON
object (`reference_rps`, `risk_rps`, `risk_ratio`, `list_rps`, `list_ratio`, `risk_p95_ms_at_half_reference`, ...).
Ratios are measured within one run on the same machine, so they compare like with like even on a busy host;
absolute rates are not. Needs `wrk` (Debian package; installed with apt-get when missing and the bench runs as
root). Only loopback addresses are contacted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
REGION_CODE = "BENCH"

LUA = r"""
local ids_lo, ids_hi = %(lo)d, %(hi)d
local path_kind = "%(kind)s"
local key = "%(key)s"
local interval_ms = %(interval_ms)f
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_usec; } bench_timeval;
int gettimeofday(bench_timeval *tv, void *tz);
]]
local tv = ffi.new("bench_timeval")
local function now_ms()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) * 1000 + tonumber(tv.tv_usec) / 1000
end
local next_at = nil
wrk.headers["Authorization"] = "Token " .. key
wrk.headers["Accept"] = "application/json"
math.randomseed(os.time())
local cart_body = [==[%(cart_body)s]==]
request = function()
  if path_kind == "reference" then
    return wrk.format("GET", "/bench/reference/" .. math.random(ids_lo, ids_hi) .. "/")
  end
  if path_kind == "cart" then
    -- headers given to wrk.format replace the global ones, so the token goes along again
    local headers = {["Authorization"] = "Token " .. key, ["Accept"] = "application/json",
                     ["Content-Type"] = "application/json"}
    return wrk.format("POST", "/api/v1/carts/score/", headers, cart_body)
  end
  if path_kind == "risk" then
    return wrk.format("GET", "/api/v1/customers/" .. math.random(ids_lo, ids_hi) .. "/risk/")
  end
  return wrk.format("GET", "/api/v1/customers/?region=%(region)s&page_size=50")
end
-- Open-loop schedule: request n is due at start + n * interval, whichever connection is free sends it.
delay = function()
  local t = now_ms()
  if next_at == nil then next_at = t end
  next_at = next_at + interval_ms
  local wait = next_at - t
  if wait < 0 then return 0 end
  return wait
end
local statuses = {}
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
done = function(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format("RESULT {\"requests\": %%d, \"seconds\": %%.3f, \"p50_ms\": %%.2f, \"p95_ms\": %%.2f, " ..
    "\"p99_ms\": %%.2f, \"non_2xx\": %%d, \"socket_errors\": %%d}\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, non2xx,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, stdout=subprocess.DEVNULL)
        found = shutil.which("wrk")
    if not found:
        sys.exit("wrk is needed: apt-get install wrk")
    return found


def _prepare(customers: int) -> tuple[str, int, int]:
    """Bench region, customers, optional published scores and a read token; returns (key, lowest, highest id)."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from cartportal import access
    from cartportal.models import Customer, PartnerToken, Region

    region, _ = Region.objects.get_or_create(code=REGION_CODE, defaults={"name": "Bench"})
    have = Customer.objects.filter(region=region).count()
    if have < customers:
        Customer.objects.bulk_create(
            [Customer(external_id=f"bench-{i:07d}", region=region) for i in range(have, customers)], batch_size=5000
        )
    ids = Customer.objects.filter(region=region).order_by("pk").values_list("pk", flat=True)
    lo, hi = ids.first(), ids.last()
    _publish_scores(region, lo, hi)
    access.ensure_role_groups()
    user, _ = get_user_model().objects.get_or_create(username="bench-partner")
    user.groups.add(access.ensure_role_groups()[access.PARTNER])
    access.grant_region(user, region, access.PARTNER)
    key = PartnerToken.new_key()
    token = PartnerToken.objects.create(
        name="bench", user=user, scopes=["read"], key_prefix=key[:10], key_hash=PartnerToken.hash_key(key)
    )
    token.regions.set([region])
    return key, lo, hi


def _publish_scores(region, lo: int, hi: int) -> None:
    """A published abandonment run for the bench customers, when the prediction app provides the models, so
    the risk lookup reads a real score row (the numbers are synthetic: this measures latency only)."""
    try:
        from predictions.models import ModelVersion, Score, ScoringRun
    except ImportError:
        print("note: no prediction models installed; risk lookups answer risk=null", flush=True)
        return
    try:
        from django.utils import timezone

        for kind in ("abandonment", "value"):
            published = ScoringRun.objects.filter(kind=kind, state="published")
            if Score.objects.filter(run__in=published, customer_id=hi).exists():
                continue
            version = ModelVersion.objects.create(kind=kind, algorithm="bench", status="retired")
            run = ScoringRun.objects.create(model_version=version, kind=kind, state="published")
            ScoringRun.objects.filter(pk=run.pk).update(published_at=timezone.now())
            scale = 1.0 if kind == "abandonment" else 200.0
            Score.objects.bulk_create(
                [
                    Score(run=run, customer_id=i, region=region, value=scale * (i % 97) / 97.0)
                    for i in range(lo, hi + 1)
                ],
                batch_size=5000,
            )
    except Exception as exc:  # the prediction models may differ from what this bench expects
        print(f"note: could not publish bench scores ({exc}); risk lookups answer risk=null", flush=True)


def _cart_body() -> str | None:
    """A 10-item cart of the catalogue products most often put in carts, at their catalogue prices, with a shipping
    cost; None when no abandonment model is active (live cart scoring would answer 503)."""
    from django.db.models import Count

    from cartportal.models import Product
    from predictions import registry

    if registry.active_version("abandonment") is None:
        print("note: no active abandonment model (run the demo first); live cart scoring is not measured", flush=True)
        return None
    products = list(
        Product.objects.filter(price__isnull=False)
        .annotate(carts=Count("cartevent"))
        .order_by("-carts", "pk")
        .values("sku", "price")[:10]
    )
    items = [
        {"product_id": p["sku"], "price": float(p["price"]), "quantity": 1 + i % 2} for i, p in enumerate(products)
    ]
    body = {"region": REGION_CODE, "items": items, "shipping_cost": 4.99, "device": "mobile", "minutes_in_session": 9}
    return json.dumps(body)


def _wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    sys.exit(f"gunicorn did not answer {url} in {timeout} s")


def _warm_cart(base: str, key: str, body: str, workers: int) -> None:
    """A few cart calls before measuring: each worker's first call loads the model and reads the catalogue
    products' review texts once (kept per process), which a long-running server has long done."""
    headers = {"Authorization": f"Token {key}", "Content-Type": "application/json", "Accept": "application/json"}
    times = []
    for _ in range(workers * 4):
        started = time.perf_counter()
        request = urllib.request.Request(f"{base}/api/v1/carts/score/", data=body.encode(), headers=headers)
        with urllib.request.urlopen(request, timeout=120) as response:
            response.read()
        times.append((time.perf_counter() - started) * 1000)
    print(f"cart warm-up   {len(times)} calls: first {times[0]:.0f} ms, last {times[-1]:.0f} ms", flush=True)


def _run_wrk(
    wrk: str, base: str, kind: str, key: str, lo: int, hi: int, rate: float, duration: int, args, cart_body: str = ""
) -> dict:
    interval_ms = 1000.0 / rate
    script = LUA % {
        "lo": lo,
        "hi": hi,
        "kind": kind,
        "key": key,
        "interval_ms": interval_ms,
        "region": REGION_CODE,
        "cart_body": cart_body,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        cmd = [wrk, "-t1", f"-c{args.connections}", f"-d{duration}s", "--timeout", "10s", "-s", handle.name, base]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60).stdout
    finally:
        os.unlink(handle.name)
    line = next((ln for ln in out.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        sys.exit(f"wrk gave no result:\n{out}")
    result = json.loads(line[len("RESULT ") :])
    result["offered_rate"] = rate
    result["achieved_rate"] = round(result["requests"] / max(result["seconds"], 1e-9), 1)
    result["errors"] = result["non_2xx"] + result["socket_errors"]
    return result


def _sustained(result: dict, args) -> bool:
    return (
        result["errors"] == 0
        and result["p95_ms"] < args.p95_limit_ms
        and result["achieved_rate"] >= 0.95 * result["offered_rate"]
    )


def _sustainable_rate(run, kind: str, args) -> tuple[float, list[dict]]:
    """Highest offered rate the endpoint sustains: a rising ladder (x1.5) until a step fails, then bisection
    between the last passing and the first failing rate. Returns (rate, every step measured); 0 when even the
    lowest rate fails."""
    steps: list[dict] = []

    def attempt(rate: float) -> bool:
        # A failing step is measured once more after a pause: the queue of an overloaded step must drain, and on a
        # shared host one burst of other work should not decide the figure. Either pass counts.
        for _ in range(2):
            time.sleep(args.settle)
            result = run(kind, rate, args.step_duration)
            steps.append(result)
            ok = _sustained(result, args)
            print(
                f"  {kind:9s} offered {rate:7.1f}/s achieved {result['achieved_rate']:7.1f}/s  "
                f"p95 {result['p95_ms']:7.1f} ms  errors {result['errors']}  {'ok' if ok else 'over'}",
                flush=True,
            )
            if ok:
                return True
        return False

    passing, failing = 0.0, None
    rate = args.start_rate
    while rate <= args.max_rate:
        if not attempt(rate):
            failing = rate
            break
        passing, rate = rate, rate * 1.5
    if failing is None:
        return passing, steps
    for _ in range(args.bisections):
        middle = (passing + failing) / 2 if passing else failing / 2
        if failing - middle < max(2.0, 0.03 * failing):
            break
        if attempt(middle):
            passing = middle
        else:
            failing = middle
    return passing, steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--start-rate", type=float, default=20.0, help="first offered rate of the ladder (req/s)")
    parser.add_argument("--max-rate", type=float, default=5000.0)
    parser.add_argument("--bisections", type=int, default=3)
    parser.add_argument("--step-duration", type=int, default=5, help="seconds per ladder step")
    parser.add_argument("--duration", type=int, default=15, help="seconds of the fixed-rate runs")
    parser.add_argument("--settle", type=float, default=2.0, help="pause before each step (s), lets queues drain")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--p95-limit-ms", type=float, default=50.0, help="p95 a sustainable rate must stay under")
    parser.add_argument("--cart-p95-limit-ms", type=float, default=50.0, help="live cart scoring p95 limit")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartportal.settings")
    from cartportal.devservices import ensure_env

    ensure_env()
    # Production settings, except TLS: on loopback there is no proxy in front to terminate it.
    os.environ.update(
        {
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "0",
            "API_TOKEN_RATE": "100000000/min",
        }
    )
    python = sys.executable
    migrate_env = {**os.environ, "CARTPORTAL_DB_AS_OWNER": "1"}
    subprocess.run([python, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=migrate_env, check=True)
    wrk = _ensure_wrk()
    key, lo, hi = _prepare(args.customers)
    cart_body = _cart_body()

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    gunicorn = [
        str(Path(python).parent / "gunicorn"),
        "cartportal.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--log-level",
        "warning",
    ]
    server_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.api_reference.settings"}
    server = subprocess.Popen(gunicorn, cwd=ROOT, env=server_env, start_new_session=True)

    def run(kind: str, rate: float, duration: int) -> dict:
        return _run_wrk(wrk, base, kind, key, lo, hi, rate, duration, args, cart_body or "")

    try:
        _wait_ready(f"{base}/healthz")
        run("reference", args.start_rate, 2)  # warm-up: workers import, connections open, caches fill
        run("risk", args.start_rate, 2)
        rates = {}
        for kind in ("reference", "risk", "list"):
            print(f"{kind}: searching the sustainable rate (p95 < {args.p95_limit_ms:.0f} ms, no errors)", flush=True)
            rates[kind], _ = _sustainable_rate(run, kind, args)
            print(f"{kind}: sustainable {rates[kind]:.1f} req/s", flush=True)
        fixed_rate = max(1.0, rates["reference"] / 2)
        fixed = {}
        for kind in ("reference", "risk", "list", *(("cart",) if cart_body else ())):
            time.sleep(args.settle)
            if kind == "cart":
                _warm_cart(base, key, cart_body, args.workers)
            fixed[kind] = run(kind, fixed_rate, args.duration)
            result = fixed[kind]
            print(
                f"{kind:9s} at {fixed_rate:.1f}/s (half the reference's sustainable rate): achieved "
                f"{result['achieved_rate']}/s  p50 {result['p50_ms']:.1f} ms  p95 {result['p95_ms']:.1f} ms  "
                f"p99 {result['p99_ms']:.1f} ms  errors {result['errors']}",
                flush=True,
            )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    reference = rates["reference"]

    def ratio(rate: float) -> float | None:
        return round(rate / reference, 3) if reference else None

    summary = {
        "customers": args.customers,
        "workers": args.workers,
        "p95_limit_ms": args.p95_limit_ms,
        "reference_rps": round(rates["reference"], 1),
        "risk_rps": round(rates["risk"], 1),
        "risk_ratio": ratio(rates["risk"]),
        "list_rps": round(rates["list"], 1),
        "list_ratio": ratio(rates["list"]),
        "fixed_rate": round(fixed_rate, 1),
        "reference_p95_ms_at_half_reference": fixed["reference"]["p95_ms"],
        "risk_p95_ms_at_half_reference": fixed["risk"]["p95_ms"],
        "risk_p99_ms_at_half_reference": fixed["risk"]["p99_ms"],
        "list_p95_ms_at_half_reference": fixed["list"]["p95_ms"],
        "list_p99_ms_at_half_reference": fixed["list"]["p99_ms"],
        "errors_at_half_reference": sum(r["errors"] for r in fixed.values()),
        # per endpoint: an endpoint whose own sustainable rate is below the fixed rate sheds (503) by design
        **{f"{kind}_errors_at_half_reference": r["errors"] for kind, r in fixed.items()},
    }
    if "cart" in fixed:  # live cart scoring (when an abandonment model is active), at the same fixed rate
        summary.update(
            cart_p95_ms=fixed["cart"]["p95_ms"],
            cart_p99_ms=fixed["cart"]["p99_ms"],
            cart_p95_limit_ms=args.cart_p95_limit_ms,
            cart_items=10,
        )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
