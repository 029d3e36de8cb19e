"""Rows that did not load: quarantined rows and duplicate examples, with their line, column, code and reason."""

from __future__ import annotations

from typing import NamedTuple

from django.db import connection, transaction

MAX_DUPLICATE_EXAMPLES = 10_000


class Rejected(NamedTuple):
    """A row that did not load: a quarantined row, or a duplicate kept as an example."""

    line: int
    column: str
    code: str
    message: str
    raw: str
    region_id: int | None = None


# The reasons both load paths (staging table and direct COPY) give, written once.


REASONS = {
    "duplicate_in_file": "Same row as an earlier line of this file.",
    "duplicate_in_database": "Already loaded by an earlier import.",
    "missing_region": "No region: give a region column, a known customer/session/order, or the import's region.",
    "region_forbidden": "You may not import into this row's region.",
}


def rejected(code: str, line, raw_by_line: dict, column: str = "", region_id=None, message: str = "") -> Rejected:
    line = int(line)
    return Rejected(line, column, code, message or REASONS[code], raw_by_line[line], _int(region_id))


def unknown_reference(line, label: str, value, raw_by_line: dict) -> Rejected:
    return rejected(
        "unknown_reference", line, raw_by_line, label, message=f"{label} {value!r} is not known (import it first)."
    )


def finish_chunk(counts, quarantine, duplicate_examples, job_id, cursor=None) -> None:
    counts["quarantined"] += len(quarantine)
    for row in quarantine:
        counts.add_problem(row.code)
    rows = quarantine + duplicate_examples
    if not rows:
        return
    if cursor is None:
        with transaction.atomic(), connection.cursor() as own:
            _write_quarantine(own, rows, job_id)
    else:
        _write_quarantine(cursor, rows, job_id)


def _write_quarantine(cursor, rows, job_id) -> None:
    with cursor.copy(
        'COPY cartportal_quarantinedrow (job_id, line, "column", code, message, raw, region_id) FROM STDIN'
    ) as copy:
        for line, column, code, message, raw, region_id in rows:
            copy.write_row(
                (
                    job_id,
                    line,
                    (column or "")[:120],
                    code,
                    (message or "")[:500],
                    (raw or "").replace("\x00", ""),
                    region_id,
                )
            )


def _int(value):
    return None if value is None else int(value)
