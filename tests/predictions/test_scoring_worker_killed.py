"""Acceptance: a real worker SIGKILLed in the middle of rescoring 50,000 customers; the watchdog finds the quiet run
and re-sends its undone chunks (audited), and within 5 minutes of the kill the run holds exactly 50,000 scores, no
duplicates, and a reader polling all along never saw a partial published run."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections, transaction

from cartportal.models import AuditEvent
from predictions import services
from predictions.models import Score, ScoringChunk, ScoringRun
from tests.factories import RegionFactory
from tests.predictions.helpers import ACTOR, active_model, many_customers

CUSTOMERS = 50_000


class PublishedRunReader(threading.Thread):
    """Polls like a page would: the latest published run and how many scores it shows."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.observations: list[tuple[int, int]] = []

    def run(self):
        try:
            while not self.stop.is_set():
                run = ScoringRun.objects.filter(state="published").order_by("-published_at").first()
                if run is not None:
                    self.observations.append((run.pk, Score.objects.filter(run=run).count()))
                time.sleep(0.05)
        finally:
            connections.close_all()


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.django_db(transaction=True)
def test_rescore_survives_sigkill_without_duplicates_or_partial_runs(celery_worker_process):
    regions = [RegionFactory(code="NORTH"), RegionFactory(code="SOUTH")]
    many_customers(regions, CUSTOMERS, with_orders=2000)
    active_model()
    reader = PublishedRunReader()
    reader.start()
    try:
        _kill_mid_run_and_recover(celery_worker_process, reader)
    finally:
        reader.stop.set()
        reader.join(10)


class ChunkHolder(threading.Thread):
    """Holds one chunk's row lock from another connection, so the worker that reaches that chunk waits on it: the
    kill then lands while a chunk is in the worker's hands (its message taken, not acknowledged), every time."""

    def __init__(self, chunk_id: int):
        super().__init__(daemon=True)
        self.chunk_id = chunk_id
        self.locked, self.release = threading.Event(), threading.Event()

    def run(self):
        try:
            with transaction.atomic():
                ScoringChunk.objects.select_for_update().get(pk=self.chunk_id)
                self.locked.set()
                self.release.wait(600)
        finally:
            connections.close_all()


def _worker_waits_on_chunk_lock() -> bool:
    with connection.cursor() as cursor:
        # pg_locks shows every session's waits to any role (pg_stat_activity hides other roles' queries)
        cursor.execute("SELECT COUNT(*) FROM pg_locks WHERE NOT granted")
        return cursor.fetchone()[0] > 0


def _kill_mid_run_and_recover(worker, reader):
    worker.kill()  # the chunks are queued before any worker takes one, so the held chunk is reached in order
    run = services.rescore_start(actor=ACTOR, kind="abandonment", chunk_size=1000)
    assert run.chunk_count == 50 and run.expected_rows == CUSTOMERS
    held = ChunkHolder(ScoringChunk.objects.filter(run=run).order_by("pk").values_list("pk", flat=True)[3])
    held.start()
    assert held.locked.wait(30)
    worker.start()

    try:
        _wait(lambda: ScoringChunk.objects.filter(run=run, done=True).count() >= 3, 120, "the first chunks")
        _wait(_worker_waits_on_chunk_lock, 120, "the worker to take the held chunk")
        worker.kill()
    finally:
        held.release.set()
        held.join(30)
    run.refresh_from_db()
    done_at_kill = ScoringChunk.objects.filter(run=run, done=True).count()
    assert run.state == "running", "the worker was killed after the run had finished: nothing was tested"
    assert done_at_kill < run.chunk_count
    assert not ScoringChunk.objects.get(pk=held.chunk_id).done

    killed_at = time.monotonic()
    worker.start()
    # the watchdog (beat runs it every minute): not yet while the job's heartbeat is fresh, then once it is quiet
    assert services.resume_stalled_runs(actor=ACTOR, older_than_seconds=600) == 0
    _wait(lambda: services.resume_stalled_runs(actor=ACTOR, older_than_seconds=3) > 0, 290, "the watchdog to resume")
    # at least the chunk the killed worker held (the queued ones went on with the restarted worker)
    resumed = AuditEvent.objects.get(action="scoring.resumed", object_id=str(run.pk))
    assert 1 <= resumed.after["chunks"] <= run.chunk_count - done_at_kill
    _wait(lambda: ScoringRun.objects.get(pk=run.pk).state == "published", 300, "the run to be published")
    assert time.monotonic() - killed_at < 300  # the acceptance bound: ended within 5 minutes of the kill
    time.sleep(0.3)
    reader.stop.set()
    reader.join(10)

    assert Score.objects.filter(run=run).count() == CUSTOMERS
    assert Score.objects.filter(run=run).values("customer_id").distinct().count() == CUSTOMERS
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM (SELECT customer_id FROM predictions_score WHERE run_id = %s "
            "GROUP BY customer_id HAVING COUNT(*) > 1) d",
            [run.pk],
        )
        assert cursor.fetchone()[0] == 0
    assert reader.observations, "the reader never saw the published run"
    assert {count for _, count in reader.observations} == {CUSTOMERS}
    run.refresh_from_db()
    assert run.job.state == "succeeded"
