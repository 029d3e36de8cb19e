"""One import from start to end: open the file, map its columns, load it chunk by chunk, audit, finish the job."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, InterfaceError, connection, transaction

from cartportal import audit
from cartportal.jobs import job_failed, job_finished, job_progress, job_started
from cartportal.models import JobRun
from cartportal.services import DomainError

from ..entities import LOADERS
from ..reader import TableFile, UnreadableFile, open_csv_bytes, open_table
from ..schema import guess_mapping, normalise_name
from .chunk import last_line_of, load_chunk
from .options import Counts, ImportOptions
from .regions import RegionResolver

EXCLUSIVE_GROUPS = [({"amount"}, {"quantity", "price"})]


def open_source(source: bytes | str | Path, options: ImportOptions) -> TableFile:
    rows = settings.CARTPORTAL_IMPORT_CHUNK_ROWS
    try:
        if isinstance(source, bytes):
            return open_csv_bytes(source, delimiter=options.delimiter, encoding=options.encoding, chunk_rows=rows)
        return open_table(source, delimiter=options.delimiter, encoding=options.encoding, chunk_rows=rows)
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


def check_target(actor, options: ImportOptions):
    """The kind and region an import asks for, checked for the actor before any row is read: (loader, region
    resolver, the id of the import's region or None). Raises DomainError with the reason."""
    if options.kind not in LOADERS:
        raise DomainError(f"Unknown import kind {options.kind!r}; one of: {', '.join(LOADERS)}.")
    loader = LOADERS[options.kind]()
    resolver = RegionResolver(actor, options.region_prefix, options.currency)
    if not getattr(loader, "needs_region", True) and resolver.allowed is not None:
        raise DomainError(f"{loader.spec.label} are shared by every region: only an administrator can import them.")
    fixed_region = None
    if options.region:
        fixed_region = resolver.resolve(options.region)
        if fixed_region is None or not resolver.permitted(fixed_region):
            raise DomainError(f"Region {options.region!r} does not exist or you may not import into it.")
    return loader, resolver, fixed_region


def run_import(*, actor, source: bytes | str | Path, options: ImportOptions, job_id: int, lease: str = "") -> Counts:
    """Run the import of `job_id`; a job with a checkpoint (a redelivered or re-queued task) continues after the
    last line its committed chunks reached. `lease` is the claim of the task running it (empty when run inline):
    a chunk commits only while the job is still held under it."""
    loader, resolver, fixed_region = check_target(actor, options)
    needs_region = getattr(loader, "needs_region", True)
    raw = source if isinstance(source, bytes) else Path(source).read_bytes()
    fingerprint = hashlib.sha256(raw).hexdigest()[:16]
    is_workbook = not isinstance(source, bytes) and Path(source).suffix.lower() in {".xlsx", ".xlsm"}
    table = open_source(source if is_workbook else raw, options)  # the bytes are read once
    mapping = resolve_mapping(loader, table.header, options)
    total_lines = max(1, table.total_lines or raw.count(b"\n"))
    job_started(job_id)
    run = ImportRun(loader, table, mapping, options, resolver, fixed_region, fingerprint, job_id, needs_region)
    run.lease = lease
    resumed_from = run.resume(JobRun.objects.filter(pk=job_id).values_list("checkpoint", flat=True).first() or {})
    counts, date_formats = run.counts, run.date_formats
    failed = _load_chunks(run, total_lines)
    summary = {
        **counts,
        "by_code": counts.by_code,
        "mapping": mapping,
        "encoding": table.encoding,
        "delimiter": table.delimiter,
        "date_formats": date_formats,
        "fingerprint": fingerprint,
        "committed_through_line": run.last_line,
        "resumed_from_line": resumed_from,
        "failed": failed,
    }
    if counts["erased_skipped"]:
        summary["erased_reason"] = (
            f"{counts['erased_skipped']} rows name customers who were erased: they were skipped and not kept."
        )
    with transaction.atomic():
        audit.record(
            actor=actor,
            action="data.import",
            object_type="job",
            object_id=job_id,
            region_code=options.region or "",
            after={k: v for k, v in summary.items() if k != "mapping"},
        )
    if failed:
        job_failed(job_id, failed, counts=summary)
    else:
        job_finished(job_id, counts=summary, message="done")
    return counts


def _load_chunks(run: ImportRun, total_lines: int) -> str | None:
    """Load the chunks in turn; None when all loaded, else why the import stopped. Chunks up to the checkpoint's
    line (committed by an earlier attempt) are read past, not loaded again.

    A database error (a value the checks let through, a lost connection, a lock timeout) rolls back the chunk in
    flight and ends the import there: what earlier chunks loaded stays, and its counts, and a re-run adds only
    the rest (every row has a key)."""
    next_analyze = 1
    for number, chunk in enumerate(run.table.chunks, start=1):
        last_line = last_line_of(chunk)
        if last_line <= run.last_line:
            continue  # committed before the task was redelivered or re-queued
        before, committed = run.counts.snapshot(), (run.last_line, run.chunks_committed)
        try:
            load_chunk(run, chunk)
        except (DatabaseError, InterfaceError) as error:
            run.counts.restore(before)
            run.last_line, run.chunks_committed = committed
            first = min([*chunk.lines[:1], *(p.line for p in chunk.problems[:1])], default=0)
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            _reconnect_if_broken()
            return (
                f"Database error while loading lines {first:,}-{last_line:,} ({reason}); nothing of those "
                "lines was kept, earlier lines were. Re-running the import adds only what is missing."
            )
        job_progress(run.job_id, 99.0 * last_line / total_lines, message=f"line {last_line:,}", counts=dict(run.counts))
        if number == next_analyze:  # after chunks 1, 2, 4, 8, ...: later chunks' plans see the grown tables
            _analyze(run.loader)
            next_analyze *= 2
    return None


def _reconnect_if_broken() -> None:
    """After a lost connection (the server restarted, the backend was terminated) the next statement gets a new
    one, so that the failure itself can still be recorded."""
    if not connection.in_atomic_block and (connection.errors_occurred or not connection.is_usable()):
        connection.close()


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
    last_line: int = 0  # the last line of the last committed chunk
    chunks_committed: int = 0
    lease: str = ""

    def checkpoint(self) -> dict:
        """What the chunks committed so far add up to; stored with each chunk's rows, in its transaction."""
        return {
            "line": self.last_line,
            "chunks": self.chunks_committed,
            "counts": dict(self.counts),
            "by_code": dict(self.counts.by_code),
            "date_formats": self.date_formats,
            "duplicate_examples": self.duplicate_examples,
        }

    def resume(self, checkpoint: dict) -> int | None:
        """Continue after a checkpoint: its counts and detected date formats; returns its line (None: from the
        start). A row that repeats one from before the checkpoint then counts as a duplicate of the database, not
        of the file: it is in the database."""
        if not checkpoint.get("line"):
            return None
        self.last_line = int(checkpoint["line"])
        self.chunks_committed = int(checkpoint.get("chunks", 0))
        self.counts.update(checkpoint.get("counts", {}))
        self.counts.by_code = dict(checkpoint.get("by_code", {}))
        self.date_formats.update(checkpoint.get("date_formats", {}))
        self.duplicate_examples = int(checkpoint.get("duplicate_examples", 0))
        return self.last_line


def _analyze(loader) -> None:
    """Fresh planner statistics for the tables an import fills (where the role may; else PostgreSQL skips)."""
    with connection.cursor() as cursor:
        for name in getattr(loader, "analyze_tables", None) or [loader.table]:
            cursor.execute(f"ANALYZE {name}")
