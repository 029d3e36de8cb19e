"""One chunk of an import: parse and validate, resolve regions, de-duplicate, load, quarantine; one transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from cartportal.erasure import erased_among
from cartportal.models import ErasedCustomer

from ..reader import Chunk, Problem
from ..schema import detect_date_format, validate
from .direct import direct_load
from .regions import row_regions
from .rejections import MAX_DUPLICATE_EXAMPLES, Rejected, finish_chunk, rejected
from .staging import sql_checks, stage

if TYPE_CHECKING:
    from .run import ImportRun


class LeaseLost(Exception):
    """Another task holds the import now (the watchdog re-queued it): this one stops, its chunk rolled back."""


@dataclass
class ChunkContext:
    lines: np.ndarray
    region_ids: np.ndarray
    fingerprint: str
    unmapped: pd.DataFrame | None = None


def load_chunk(run: ImportRun, chunk: Chunk) -> None:
    loader, table, mapping, options, counts = run.loader, run.table, run.mapping, run.options, run.counts
    seen, date_formats, job_id = run.seen, run.date_formats, run.job_id
    quarantine: list[Rejected] = []
    if options.row_errors:
        move_row_errors(chunk, options.row_errors)
    for p in chunk.problems:
        quarantine.append(Rejected(p.line, p.column, p.code, p.message, p.raw))
    counts["read"] += len(chunk.lines) + len(chunk.problems)
    skip_erased_customers(chunk, table.header, mapping, counts)
    if not chunk.lines:
        with transaction.atomic(), connection.cursor() as cursor:
            finish_chunk(counts, quarantine, [], job_id, cursor)
            commit_checkpoint(cursor, run, chunk)
        return
    full = pd.DataFrame(chunk.rows, columns=table.header)
    frame = full[list(mapping.values())].rename(columns={v: k for k, v in mapping.items()})
    unmapped = full[[c for c in table.header if c not in mapping.values()]] if loader.keep_unmapped else None
    for f in loader.spec.fields:
        if f.kind == "datetime" and f.name in frame and f.name not in date_formats:
            date_formats[f.name] = options.date_format or detect_date_format(frame[f.name].astype(str).str.strip())
    column_of = dict(mapping)
    parsed, problems = validate(
        loader.spec, frame, column_of=column_of, date_formats=date_formats, now=pd.Timestamp(timezone.now())
    )
    lines = np.asarray(chunk.lines)
    region_ids = row_regions(frame, problems, run.resolver, run.fixed_region, run.needs_region, column_of)
    good = ~problems.bad
    context = ChunkContext(
        lines[good],
        region_ids[good],
        run.fingerprint,
        unmapped[good].reset_index(drop=True) if unmapped is not None else None,
    )
    staged, extra = loader.prepare(parsed[good].reset_index(drop=True), context)
    good_positions = np.flatnonzero(good)
    for pos, name, code, message in extra:
        problems.add(np.isin(np.arange(len(frame)), [good_positions[pos]]), name, code, message)
    keep = ~np.isin(staged["line"].to_numpy(), lines[problems.bad])
    staged = staged[keep].reset_index(drop=True)
    raw_by_line = dict(zip(chunk.lines, chunk.raws, strict=True))
    for pos in np.flatnonzero(problems.bad):
        name = problems.field[pos]
        column = column_of.get(name, name or "")
        quarantine.append(
            rejected(problems.code[pos], lines[pos], raw_by_line, column, region_ids[pos], problems.message[pos])
        )
    key_column = "source_key" if "source_key" in staged else staged.columns[1]
    keys = staged[key_column].astype(str).to_numpy()
    first = ~pd.Series(keys).duplicated().to_numpy()
    fresh = np.array([k not in seen for k in keys], dtype=bool) & first
    duplicates = [rejected("duplicate_in_file", line, raw_by_line) for line in staged["line"].to_numpy()[~fresh]]
    seen.update(keys[fresh])
    staged = staged[fresh].reset_index(drop=True)
    with transaction.atomic(), connection.cursor() as cursor:
        # A chunk's commit need not wait for its WAL flush: the JobRun update that follows is a synchronous
        # commit and flushes it, and a chunk lost in a crash is lost with its checkpoint (same transaction), so a
        # resumed import loads it again.
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        result = None
        if getattr(loader, "direct", False):
            try:
                with transaction.atomic():
                    result, direct_quarantine, direct_dupes = direct_load(cursor, run, staged, raw_by_line, column_of)
            except IntegrityError:
                result = None  # another import wrote some of these keys meanwhile: take the staging path
            else:
                quarantine += direct_quarantine
                duplicates += direct_dupes
        if result is None:
            stage(cursor, loader, staged)
            quarantine += sql_checks(cursor, run, raw_by_line, column_of)
            cursor.execute(loader.duplicates_in_db())
            duplicates += [rejected("duplicate_in_database", line, raw_by_line) for (line,) in cursor.fetchall()]
            result = loader.insert(cursor)
        counts["loaded"] += result["loaded"]
        counts["cancellations"] += result["cancellations"]
        counts["duplicates"] += len(duplicates)
        for row in duplicates:
            counts.add_problem(row.code)
        examples = duplicates[: max(0, MAX_DUPLICATE_EXAMPLES - run.duplicate_examples)]
        run.duplicate_examples += len(examples)
        finish_chunk(counts, quarantine, examples, job_id, cursor)
        commit_checkpoint(cursor, run, chunk)


def commit_checkpoint(cursor, run: ImportRun, chunk: Chunk) -> None:
    """Record, in the chunk's own transaction, that the import got as far as its last line (with the counts so
    far), so that a resumed import continues after it; refuse to commit if another task holds the job now."""
    previous = (run.last_line, run.chunks_committed)
    run.last_line, run.chunks_committed = last_line_of(chunk), run.chunks_committed + 1
    cursor.execute(
        "UPDATE cartportal_jobrun SET checkpoint = %s, heartbeat_at = now() WHERE id = %s AND lease = %s",
        [json.dumps(run.checkpoint()), run.job_id, run.lease],
    )
    if cursor.rowcount != 1:
        run.last_line, run.chunks_committed = previous
        raise LeaseLost(f"Import job {run.job_id} is held by another task now; this one stops.")


def last_line_of(chunk: Chunk) -> int:
    return max(chunk.lines[-1] if chunk.lines else 0, chunk.problems[-1].line if chunk.problems else 0)


def skip_erased_customers(chunk: Chunk, header: list[str], mapping: dict, counts) -> None:
    """Rows that name an erased customer are dropped first: neither loaded nor quarantined (their raw text is not
    kept), only counted as `erased_skipped`."""
    column = mapping.get("customer")
    if column is None or column not in header or not chunk.lines or not ErasedCustomer.objects.exists():
        return
    index = header.index(column)
    values = [row[index] if index < len(row) else None for row in chunk.rows]
    erased = erased_among(values)
    if not erased:
        return
    keep = [i for i, value in enumerate(values) if value is None or str(value).strip() not in erased]
    counts["erased_skipped"] += len(chunk.lines) - len(keep)
    chunk.lines = [chunk.lines[i] for i in keep]
    chunk.rows = [chunk.rows[i] for i in keep]
    chunk.raws = [chunk.raws[i] for i in keep]


def move_row_errors(chunk: Chunk, row_errors: dict) -> None:
    keep = [i for i, line in enumerate(chunk.lines) if line not in row_errors]
    for i, line in enumerate(chunk.lines):
        if line in row_errors:
            code, message = row_errors[line]
            chunk.problems.append(Problem(line, "", code, message, chunk.raws[i]))
    chunk.lines = [chunk.lines[i] for i in keep]
    chunk.rows = [chunk.rows[i] for i in keep]
    chunk.raws = [chunk.raws[i] for i in keep]
