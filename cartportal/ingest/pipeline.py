"""One import: read, validate, resolve regions and references, de-duplicate, COPY, insert, quarantine.

Each chunk is its own transaction, so progress is visible while a big file loads and a crash loses at most
the chunk in flight (re-running the import then adds only what is missing: every row has a key).
Counts always add up: read = loaded + cancellations + quarantined + duplicates.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from cartportal import access, audit
from cartportal.jobs import job_finished, job_progress, job_started
from cartportal.models import Region
from cartportal.services import DomainError

from .entities import LOADERS
from .reader import Chunk, TableFile, UnreadableFile, open_csv_bytes, open_table
from .schema import detect_date_format, guess_mapping, normalise_name, validate

MAX_DUPLICATE_EXAMPLES = 10_000
REGIONLESS_TABLES = {"cartportal_product"}
EXCLUSIVE_GROUPS = [({"amount"}, {"quantity", "price"})]


@dataclass
class ImportOptions:
    kind: str
    mapping: dict[str, str] = field(default_factory=dict)
    region: str | None = None
    region_prefix: str = ""
    date_format: str | None = None
    delimiter: str | None = None
    encoding: str | None = None
    guess_columns: bool = True
    filename: str = ""
    row_errors: dict = field(default_factory=dict)  # line -> (code, message), found before parsing (API batches)


@dataclass
class ChunkContext:
    lines: np.ndarray
    region_ids: np.ndarray
    fingerprint: str
    unmapped: pd.DataFrame | None = None


class Counts(dict):
    def __init__(self):
        super().__init__(read=0, loaded=0, cancellations=0, quarantined=0, duplicates=0)
        self.by_code: dict[str, int] = {}

    def add_problem(self, code: str, n: int = 1) -> None:
        self.by_code[code] = self.by_code.get(code, 0) + n


def region_code_for(value: str, prefix: str = "") -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", value.strip()).strip("-").upper()
    return f"{prefix}{slug}"[:32]


class RegionResolver:
    """Region values of a file -> region ids, creating regions only for actors allowed to."""

    def __init__(self, actor, prefix: str = ""):
        self.actor = actor
        self.prefix = prefix
        self.allowed = access.region_ids_for(actor, "import")
        self.may_create = self.allowed is None
        self.cache: dict[str, int | None] = {}

    def resolve(self, value: str) -> int | None:
        key = value.strip().lower()
        if key not in self.cache:
            self.cache[key] = self._lookup(value.strip())
        return self.cache[key]

    def _lookup(self, value: str) -> int | None:
        code = region_code_for(value, self.prefix)
        region = (
            Region.objects.filter(code__iexact=code).first()
            or Region.objects.filter(code__iexact=value).first()
            or Region.objects.filter(name__iexact=value).first()
        )
        if region is None and self.may_create and code:
            region = Region.objects.create(code=code, name=value[:120])
            audit.record(
                actor=self.actor,
                action="region.create",
                object_type="region",
                object_id=region.pk,
                region_code=region.code,
                after={"code": region.code, "name": region.name},
            )
        return region.pk if region else None

    def permitted(self, region_id: int) -> bool:
        return self.allowed is None or region_id in self.allowed


def open_source(source: bytes | str | Path, options: ImportOptions) -> TableFile:
    try:
        if isinstance(source, bytes):
            return open_csv_bytes(source, delimiter=options.delimiter, encoding=options.encoding)
        return open_table(source, delimiter=options.delimiter, encoding=options.encoding)
    except UnreadableFile as error:
        raise DomainError(str(error)) from error
    except LookupError as error:
        raise DomainError(f"Unknown encoding: {error}") from error


def resolve_mapping(loader, header: list[str], options: ImportOptions) -> dict[str, str]:
    known = {f.name for f in loader.spec.fields}
    by_norm = {normalise_name(h): h for h in header}
    mapping = {}
    for name, column in options.mapping.items():
        if name not in known:
            raise DomainError(f"Unknown field {name!r} for {loader.spec.label}; fields: {', '.join(sorted(known))}.")
        found = column if column in header else by_norm.get(normalise_name(column))
        if found is None:
            raise DomainError(
                f"Column {column!r} (for {name}) is not in the file; its columns are: {', '.join(header)}."
            )
        mapping[name] = found
    if options.guess_columns:
        for name, column in guess_mapping(loader.spec, header).items():
            if name in mapping or column in mapping.values() or (name == "region" and options.region):
                continue
            if any(
                name in group and mapping.keys() & other
                for a, b in EXCLUSIVE_GROUPS
                for group, other in ((a, b), (b, a))
            ):
                continue
            mapping[name] = column
    missing = [f.name for f in loader.spec.fields if f.required and f.name not in mapping]
    if missing:
        raise DomainError(
            f"No column for required field(s) {', '.join(missing)}; columns in the file: {', '.join(header)}."
        )
    return mapping


def run_import(*, actor, source: bytes | str | Path, options: ImportOptions, job_id: int) -> Counts:
    if options.kind not in LOADERS:
        raise DomainError(f"Unknown import kind {options.kind!r}; one of: {', '.join(LOADERS)}.")
    loader = LOADERS[options.kind]()
    needs_region = getattr(loader, "needs_region", True)
    resolver = RegionResolver(actor, options.region_prefix)
    if not needs_region and resolver.allowed is not None:
        raise DomainError(f"{loader.spec.label} are shared by every region: only an administrator can import them.")
    fixed_region = None
    if options.region:
        fixed_region = resolver.resolve(options.region)
        if fixed_region is None or not resolver.permitted(fixed_region):
            raise DomainError(f"Region {options.region!r} does not exist or you may not import into it.")
    raw = source if isinstance(source, bytes) else Path(source).read_bytes()
    fingerprint = hashlib.sha256(raw).hexdigest()[:16]
    is_workbook = not isinstance(source, bytes) and Path(source).suffix.lower() in {".xlsx", ".xlsm"}
    table = open_source(source if is_workbook else raw, options)  # the bytes are read once
    mapping = resolve_mapping(loader, table.header, options)
    total_lines = max(1, raw.count(b"\n"))
    job_started(job_id)
    run = ImportRun(loader, table, mapping, options, resolver, fixed_region, fingerprint, job_id, needs_region)
    counts, date_formats = run.counts, run.date_formats
    next_analyze = 1
    for number, chunk in enumerate(table.chunks, start=1):
        _load_chunk(run, chunk)
        last_line = max(chunk.lines[-1] if chunk.lines else 0, chunk.problems[-1].line if chunk.problems else 0)
        job_progress(job_id, 99.0 * last_line / total_lines, message=f"line {last_line:,}", counts=dict(counts))
        if number == next_analyze:  # after chunks 1, 2, 4, 8, ...: plans for the next chunks see the grown tables
            _analyze(loader)
            next_analyze *= 2
    summary = {
        **counts,
        "by_code": counts.by_code,
        "mapping": mapping,
        "encoding": table.encoding,
        "delimiter": table.delimiter,
        "date_formats": date_formats,
        "fingerprint": fingerprint,
    }
    with transaction.atomic():
        audit.record(
            actor=actor,
            action="data.import",
            object_type="job",
            object_id=job_id,
            region_code=options.region or "",
            after={k: v for k, v in summary.items() if k != "mapping"},
        )
    job_finished(job_id, counts=summary, message="done")
    return counts


@dataclass
class ImportRun:
    """What every chunk of one import shares: its settings, and what it accumulates across chunks."""

    loader: object
    table: TableFile
    mapping: dict
    options: ImportOptions
    resolver: RegionResolver
    fixed_region: int | None
    fingerprint: str
    job_id: int
    needs_region: bool
    counts: Counts = field(default_factory=Counts)
    seen: set = field(default_factory=set)  # row keys met earlier in this file
    date_formats: dict = field(default_factory=dict)  # detected once per datetime field
    duplicate_examples: int = 0
    id_cache: dict = field(default_factory=dict)  # table -> {natural key: (id, region) or None}


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


def _rejected(code: str, line, raw_by_line: dict, column: str = "", region_id=None, message: str = "") -> Rejected:
    line = int(line)
    return Rejected(line, column, code, message or REASONS[code], raw_by_line[line], _int(region_id))


def _unknown_reference(line, label: str, value, raw_by_line: dict) -> Rejected:
    return _rejected(
        "unknown_reference", line, raw_by_line, label, message=f"{label} {value!r} is not known (import it first)."
    )


def _load_chunk(run: ImportRun, chunk: Chunk) -> None:
    loader, table, mapping, options, counts = run.loader, run.table, run.mapping, run.options, run.counts
    seen, date_formats, job_id = run.seen, run.date_formats, run.job_id
    quarantine: list[Rejected] = []
    if options.row_errors:
        _move_row_errors(chunk, options.row_errors)
    for p in chunk.problems:
        quarantine.append(Rejected(p.line, p.column, p.code, p.message, p.raw))
    counts["read"] += len(chunk.lines) + len(chunk.problems)
    if not chunk.lines:
        _finish_chunk(counts, quarantine, [], job_id)
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
    region_ids = _regions(frame, problems, run.resolver, run.fixed_region, run.needs_region, column_of)
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
            _rejected(problems.code[pos], lines[pos], raw_by_line, column, region_ids[pos], problems.message[pos])
        )
    key_column = "source_key" if "source_key" in staged else staged.columns[1]
    keys = staged[key_column].astype(str).to_numpy()
    first = ~pd.Series(keys).duplicated().to_numpy()
    fresh = np.array([k not in seen for k in keys], dtype=bool) & first
    duplicates = [_rejected("duplicate_in_file", line, raw_by_line) for line in staged["line"].to_numpy()[~fresh]]
    seen.update(keys[fresh])
    staged = staged[fresh].reset_index(drop=True)
    with transaction.atomic(), connection.cursor() as cursor:
        # A chunk's commit need not wait for its WAL flush: the JobRun update that follows is a synchronous
        # commit and flushes it, and a chunk lost in a crash is re-added by re-running the (idempotent) import.
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        result = None
        if getattr(loader, "direct", False):
            try:
                with transaction.atomic():
                    result, direct_quarantine, direct_dupes = _direct_load(cursor, run, staged, raw_by_line, column_of)
            except IntegrityError:
                result = None  # another import wrote some of these keys meanwhile: take the staging path
            else:
                quarantine += direct_quarantine
                duplicates += direct_dupes
        if result is None:
            _stage(cursor, loader, staged)
            quarantine += _sql_checks(cursor, run, raw_by_line, column_of)
            cursor.execute(loader.duplicates_in_db())
            duplicates += [_rejected("duplicate_in_database", line, raw_by_line) for (line,) in cursor.fetchall()]
            result = loader.insert(cursor)
        counts["loaded"] += result["loaded"]
        counts["cancellations"] += result["cancellations"]
        counts["duplicates"] += len(duplicates)
        for row in duplicates:
            counts.add_problem(row.code)
        examples = duplicates[: max(0, MAX_DUPLICATE_EXAMPLES - run.duplicate_examples)]
        run.duplicate_examples += len(examples)
        _finish_chunk(counts, quarantine, examples, job_id, cursor)


def _direct_load(cursor, run: ImportRun, staged: pd.DataFrame, raw_by_line, column_of):
    """Resolve references with cached id lookups, drop keys already loaded, and COPY straight into the table.
    The same checks as the staging path, without the staging table and the joins (for high-volume kinds)."""
    loader, resolver, cache = run.loader, run.resolver, run.id_cache
    quarantine, dupes = [], []
    lines = staged["line"].to_numpy()
    bad = np.zeros(len(staged), dtype=bool)
    ids = {}
    for column, table, key, field_name in loader.references:
        values = staged[column]
        known = cache.setdefault(table, {})
        wanted = [v for v in values.dropna().unique() if v not in known]
        for start in range(0, len(wanted), 50_000):
            region_column = "NULL" if table in REGIONLESS_TABLES else "region_id"
            cursor.execute(
                f"SELECT {key}, id, {region_column} FROM {table} WHERE {key} = ANY(%s)",
                [list(wanted[start : start + 50_000])],
            )
            known.update({k: (i, r) for k, i, r in cursor.fetchall()})
            known.update({k: None for k in wanted[start : start + 50_000] if k not in known})
        found = values.map(lambda v, known=known: known.get(v) if v is not None and v == v else None)
        missing = values.notna().to_numpy() & found.isna().to_numpy() & ~bad
        label = column_of.get(field_name, field_name)
        quarantine += [
            _unknown_reference(lines[pos], label, values.iat[pos], raw_by_line) for pos in np.flatnonzero(missing)
        ]
        bad |= missing
        ids[column] = found
    region = staged["region_id"].astype(object).where(staged["region_id"].notna(), None)
    for column, _table, _key in getattr(loader, "region_from", []):
        derived = ids[column].map(lambda pair: pair[1] if isinstance(pair, tuple) else None)
        region = region.where(region.notna(), derived)
    if run.needs_region:
        no_region = region.isna().to_numpy() & ~bad
        region_label = column_of.get("region", "")
        quarantine += [
            _rejected("missing_region", lines[pos], raw_by_line, region_label) for pos in np.flatnonzero(no_region)
        ]
        bad |= no_region
        if resolver.allowed is not None:
            allowed = set(resolver.allowed)
            forbidden = np.array([r is not None and int(r) not in allowed for r in region]) & ~bad
            quarantine += [
                _rejected("region_forbidden", lines[pos], raw_by_line, region_label, region.iat[pos])
                for pos in np.flatnonzero(forbidden)
            ]
            bad |= forbidden
    keys = staged["source_key"].to_numpy()
    cursor.execute(f"SELECT source_key FROM {loader.table} WHERE source_key = ANY(%s)", [list(keys[~bad])])
    existing = {k for (k,) in cursor.fetchall()}
    if existing:
        in_db = np.array([k in existing for k in keys]) & ~bad
        dupes += [_rejected("duplicate_in_database", lines[pos], raw_by_line) for pos in np.flatnonzero(in_db)]
        bad |= in_db
    rows = loader.direct_rows(staged[~bad], {c: v[~bad] for c, v in ids.items()}, region[~bad])
    _copy_frame(cursor, loader.table, rows)
    return {"loaded": len(rows), "cancellations": 0}, quarantine, dupes


def _copy_frame(cursor, table: str, frame: pd.DataFrame) -> None:
    if frame.empty:
        return
    out = frame.copy()
    for name in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[name]):
            out[name] = out[name].dt.strftime("%Y-%m-%d %H:%M:%S+00")
    buffer = io.StringIO()
    out.to_csv(buffer, index=False, header=False, na_rep="\\N")
    with cursor.copy(f"COPY {table} ({', '.join(out.columns)}) FROM STDIN (FORMAT csv, NULL '\\N')") as copy:
        copy.write(buffer.getvalue())


def _analyze(loader) -> None:
    """Fresh planner statistics for the tables an import fills (where the role may; else PostgreSQL skips)."""
    with connection.cursor() as cursor:
        for name in getattr(loader, "analyze_tables", None) or [loader.table]:
            cursor.execute(f"ANALYZE {name}")


def _move_row_errors(chunk: Chunk, row_errors: dict) -> None:
    from .reader import Problem

    keep = [i for i, line in enumerate(chunk.lines) if line not in row_errors]
    for i, line in enumerate(chunk.lines):
        if line in row_errors:
            code, message = row_errors[line]
            chunk.problems.append(Problem(line, "", code, message, chunk.raws[i]))
    chunk.lines = [chunk.lines[i] for i in keep]
    chunk.rows = [chunk.rows[i] for i in keep]
    chunk.raws = [chunk.raws[i] for i in keep]


def _regions(frame, problems, resolver, fixed_region, needs_region, column_of) -> np.ndarray:
    size = len(frame)
    if not needs_region:
        return np.full(size, None, dtype=object)
    if fixed_region is not None and "region" not in frame:
        return np.full(size, fixed_region, dtype=object)
    if "region" not in frame:
        return np.full(size, None, dtype=object)  # resolved from references in SQL
    values = frame["region"].fillna("").astype(str).str.strip()
    ids = np.array([resolver.resolve(v) if v else fixed_region for v in values], dtype=object)
    label = column_of.get("region", "region")
    unknown = (values.ne("").to_numpy()) & np.array([i is None for i in ids])
    problems.add(unknown, "region", "unknown_region", f"{label} names a region that does not exist.")
    forbidden = np.array([i is not None and not resolver.permitted(i) for i in ids])
    problems.add(forbidden, "region", "region_forbidden", "You may not import into this region.")
    return ids


def _stage(cursor, loader, staged: pd.DataFrame) -> None:
    columns = ", ".join(f"{name} {sql}" for name, sql in loader.staging)
    cursor.execute("DROP TABLE IF EXISTS stg")
    cursor.execute(f"CREATE TEMP TABLE stg ({columns}) ON COMMIT DROP")
    if staged.empty:
        return
    buffer = io.StringIO()
    out = staged[[c for c, _ in loader.staging]].copy()
    for name, sql in loader.staging:
        if sql == "timestamptz":
            out[name] = _iso_utc(out[name])
    out.to_csv(buffer, index=False, header=False, na_rep="\\N")
    with cursor.copy(
        f"COPY stg ({', '.join(c for c, _ in loader.staging)}) FROM STDIN (FORMAT csv, NULL '\\N')"
    ) as copy:
        copy.write(buffer.getvalue())
    cursor.execute("ANALYZE stg")


def _iso_utc(values: pd.Series) -> pd.Series:
    """Timestamps as ISO 8601 UTC text for COPY (None for a missing one), formatted in one vectorised pass."""
    stamps = pd.to_datetime(values, utc=True)
    naive = stamps.dt.tz_convert(None).to_numpy(dtype="datetime64[us]")
    text = pd.Series(np.datetime_as_string(naive, unit="us"), index=values.index, dtype=object) + "+00"
    return text.where(stamps.notna(), None)


def _sql_checks(cursor, run: ImportRun, raw_by_line, column_of) -> list[Rejected]:
    loader, resolver = run.loader, run.resolver
    out = []
    region_missing = False
    if getattr(loader, "region_from", []):
        cursor.execute("SELECT EXISTS (SELECT 1 FROM stg WHERE region_id IS NULL)")
        region_missing = cursor.fetchone()[0]
    for column, table, key in getattr(loader, "region_from", []) if region_missing else []:
        cursor.execute(
            f"UPDATE stg s SET region_id = t.region_id FROM {table} t "
            f"WHERE s.region_id IS NULL AND s.{column} IS NOT NULL AND t.{key} = s.{column}"
        )
    for column, table, key, field_name in loader.references:
        cursor.execute(
            f"DELETE FROM stg s WHERE s.{column} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {table} t WHERE t.{key} = s.{column}) RETURNING s.line, s.{column}"
        )
        label = column_of.get(field_name, field_name)
        out += [_unknown_reference(line, label, value, raw_by_line) for line, value in cursor.fetchall()]
    for column, table, key, _field in loader.soft_references:
        cursor.execute(
            f"UPDATE stg s SET {column} = NULL WHERE s.{column} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {table} t WHERE t.{key} = s.{column})"
        )
    if run.needs_region:
        region_label = column_of.get("region", "")
        cursor.execute("DELETE FROM stg WHERE region_id IS NULL RETURNING line")
        out += [_rejected("missing_region", line, raw_by_line, region_label) for (line,) in cursor.fetchall()]
        if resolver.allowed is not None:
            cursor.execute(
                "DELETE FROM stg WHERE NOT (region_id = ANY(%s)) RETURNING line, region_id", [list(resolver.allowed)]
            )
            out += [
                _rejected("region_forbidden", line, raw_by_line, region_label, region_id)
                for line, region_id in cursor.fetchall()
            ]
    return out


def _finish_chunk(counts, quarantine, duplicate_examples, job_id, cursor=None) -> None:
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
