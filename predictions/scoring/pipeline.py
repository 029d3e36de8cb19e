"""The rescoring pipeline: plan chunks, score each chunk exactly once, publish the run atomically.

Why it survives a worker killed mid-run:
- a chunk is scored inside one transaction that holds the chunk row's lock (`select_for_update`), deletes
  whatever rows of its own range exist, COPYs its scores and marks itself done; a crash rolls all of it back,
  and a re-delivered or duplicate message either waits on the lock and then sees `done`, or redoes the work;
- the run turns `published` only when every chunk is done, under the run row's lock, after checking that
  the number of scores equals the chunks' row counts; readers only ever look at published runs.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.utils import timezone

from cartportal.audit import record
from cartportal.jobs import job_finished, job_progress

from ..models import ModelVersion, Score, ScoringChunk, ScoringRun
from ..registry import load_version
from .features import current_customer_features, customer_features

DEFAULT_CHUNK_SIZE = 100_000
_SCORERS: dict[tuple[int, str], object] = {}

_NEXT_CHUNK_SQL = """
SELECT MIN(id), MAX(id), COUNT(*)
FROM (
    SELECT id FROM cartportal_customer
    WHERE region_id = %s AND erased_at IS NULL AND id > %s
    ORDER BY id
    LIMIT %s
) chunk
"""


def plan_chunks(region_ids: list[int] | None, chunk_size: int) -> list[tuple[int, int, int, int]]:
    """(region_id, first id, last id, customers) slices of at most `chunk_size` customers, per region.

    Each slice is read off the (region, id) index of live customers: one short index walk per chunk, so
    planning never sorts or scans the whole customer table."""
    if chunk_size < 1:
        raise ValueError("chunk size must be at least 1")
    from cartportal.models import Region

    regions = Region.objects.order_by("pk").values_list("pk", flat=True)
    if region_ids is not None:
        regions = regions.filter(pk__in=list(region_ids))
    plan = []
    with connection.cursor() as cursor:
        for region_id in regions:
            after = -1
            while True:
                cursor.execute(_NEXT_CHUNK_SQL, [region_id, after, chunk_size])
                first, last, count = cursor.fetchone()
                if not count:
                    break
                plan.append((int(region_id), int(first), int(last), int(count)))
                after = last
    return plan


def scorer_for(version: ModelVersion):
    """The version's scorer, loaded (and checksum-verified) once per process."""
    key = (version.pk, version.checksum)
    if key not in _SCORERS:
        _SCORERS.clear()
        _SCORERS[key] = load_version(version)
    return _SCORERS[key]


def score_frame(scorer, features: pd.DataFrame) -> pd.DataFrame:
    if features.empty:
        return pd.DataFrame({"value": []}, index=features.index)
    scores = scorer.score(features)
    if "value" not in scores.columns:
        raise ValueError("a scorer must return a 'value' column")
    return scores


def _json_text(value: str) -> str:
    """Escape for PostgreSQL's COPY text format."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _finite(values: np.ndarray) -> np.ndarray:
    return np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)


def copy_rows(*, run_id: int, customer_ids: np.ndarray, region_ids: np.ndarray, scores: pd.DataFrame) -> int:
    """COPY the score rows into Score (text format); returns the number of rows written. A `session_id` column of
    the scores goes to Score.session, `contributions` to Score.contributions, any other column to Score.extra."""
    if len(customer_ids) == 0:
        return 0
    values = _finite(scores["value"].to_numpy())
    extra_cols = [c for c in scores.columns if c not in ("value", "contributions", "session_id")]
    extra_text = _extra_column(scores, extra_cols)
    contributions = _contributions_column(scores)
    sessions = (
        ["\\N" if pd.isna(v) else str(int(v)) for v in scores["session_id"]]
        if "session_id" in scores.columns
        else ["\\N"] * len(scores)
    )
    prefix = f"{run_id}\t"
    lines = [
        f"{prefix}{c}\t{r}\t{v!r}\t{e}\t{k}\t{s}\n"
        for c, r, v, e, k, s in zip(
            customer_ids.tolist(),
            region_ids.tolist(),
            values.tolist(),
            extra_text,
            contributions,
            sessions,
            strict=True,
        )
    ]
    payload = "".join(lines).encode()
    with connection.cursor() as cursor:
        columns = "(run_id, customer_id, region_id, value, extra, contributions, session_id)"
        with cursor.copy(f"COPY predictions_score {columns} FROM STDIN") as copy:
            copy.write(payload)
    return len(lines)


def _extra_column(scores: pd.DataFrame, columns: list[str]) -> list[str]:
    """Score.extra as COPY text: numeric columns on the fast path (finite floats), any other column (text, lists,
    dicts, e.g. a scorer's reasons) as JSON values."""
    if not columns:
        return ["\\N"] * len(scores)
    numeric = {c for c in columns if pd.api.types.is_numeric_dtype(scores[c])}
    arrays = [
        [repr(v) for v in _finite(scores[c].to_numpy()).tolist()]
        if c in numeric
        else [json.dumps(v, default=str) for v in scores[c].tolist()]
        for c in columns
    ]
    keys = [json.dumps(c) for c in columns]
    text = [
        "{" + ", ".join(f"{k}: {v}" for k, v in zip(keys, row, strict=True)) + "}" for row in zip(*arrays, strict=True)
    ]
    return text if len(numeric) == len(columns) else [_json_text(t) for t in text]


def _contributions_column(scores: pd.DataFrame) -> list[str]:
    if "contributions" not in scores.columns:
        return ["\\N"] * len(scores)
    return ["\\N" if item is None else _json_text(json.dumps(item, default=float)) for item in scores["contributions"]]


def chunk_reader(scorer, *, current: bool):
    """What reads a chunk's features for `scorer`. A scorer may read its own rows (the abandonment model: each
    customer's latest session); by default it gets the customer features at the cut-off. A run "now" reads them from
    the per-customer order aggregates (same numbers, no order history aggregated); a run at an earlier cut-off
    (back-tests, training) from the orders before it."""
    if current and hasattr(scorer, "current_chunk_features"):
        return scorer.current_chunk_features
    if hasattr(scorer, "chunk_features"):
        return scorer.chunk_features
    return current_customer_features if current else customer_features


def score_chunk(chunk_id: int) -> str:
    """Score one chunk exactly once. Returns what happened: 'scored', 'already-done' or 'run-closed'."""
    with transaction.atomic():
        # only the chunk's row: locking the run row too (select_related's default) would make every chunk of the
        # run wait for the one in flight, so two workers would score one chunk at a time
        chunk = ScoringChunk.objects.select_for_update(of=("self",)).select_related("run").filter(pk=chunk_id).first()
        if chunk is None or chunk.run.state not in (ScoringRun.State.PENDING, ScoringRun.State.RUNNING):
            return "run-closed"
        if chunk.done:
            return "already-done"
        run = chunk.run
        # the artifact is read only when this process has not loaded this version yet (scorer_for caches it)
        scorer = scorer_for(ModelVersion.objects.defer("artifact").get(pk=run.model_version_id))
        read = chunk_reader(scorer, current=run.cut_off_now)
        features = read(
            region_id=chunk.region_id, id_from=chunk.id_from, id_to=chunk.id_to, as_of=run.as_of or timezone.now()
        )
        scores = score_frame(scorer, features)
        Score.objects.filter(
            run=run, region_id=chunk.region_id, customer_id__gte=chunk.id_from, customer_id__lte=chunk.id_to
        ).delete()
        rows = copy_rows(
            run_id=run.pk,
            customer_ids=features.index.to_numpy(),
            region_ids=features["region_id"].to_numpy(),
            scores=scores,
        )
        chunk.done, chunk.rows, chunk.finished_at = True, rows, timezone.now()
        chunk.attempts += 1
        chunk.save(update_fields=["done", "rows", "finished_at", "attempts"])
    _report_progress(run)
    return "scored"


def _report_progress(run: ScoringRun) -> None:
    if run.job_id is None:
        return
    done = ScoringChunk.objects.filter(run=run, done=True).count()
    total = max(run.chunk_count, 1)
    job_progress(run.job_id, 100.0 * done / total, message=f"{done} of {run.chunk_count} chunks scored")


def publish_if_complete(run_id: int) -> bool:
    """Flip the run to published when every chunk is done; True when this call (or an earlier one) published it."""
    with transaction.atomic():
        run = ScoringRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            return False
        if run.state == ScoringRun.State.PUBLISHED:
            return True
        if run.state != ScoringRun.State.RUNNING or run.chunks.filter(done=False).exists():
            return False
        expected = sum(run.chunks.values_list("rows", flat=True))
        written = Score.objects.filter(run=run).count()
        if written != expected:
            raise RuntimeError(f"run {run.pk}: {written} scores written but chunks report {expected}")
        run.state, run.published_at = ScoringRun.State.PUBLISHED, timezone.now()
        run.save(update_fields=["state", "published_at"])
        record(
            actor="task:rescore",
            action="scoring.published",
            object_type="scoring_run",
            object_id=run.pk,
            after={"kind": run.kind, "model_version": run.model_version_id, "scores": written},
        )
        if run.job_id:
            job_finished(run.job_id, counts={"scores": written, "chunks": run.chunk_count}, message="published")
    return True
