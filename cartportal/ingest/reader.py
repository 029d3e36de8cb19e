"""Read a shop's export (CSV in any common dialect and encoding, or .xlsx) into chunks of records.

Every record keeps the line number it started on, so that a refused row can be pointed at. A line
whose bytes are not valid in the file's encoding, or a record with the wrong number of columns, is
returned as a problem instead of a record; everything else in the file still loads.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cartportal.errors import AppError

CHUNK_ROWS = 100_000
SNIFF_BYTES = 64 * 1024
DELIMITERS = ",;\t|"


@dataclass
class Problem:
    line: int
    column: str
    code: str
    message: str
    raw: str


@dataclass
class Chunk:
    lines: list[int] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    raws: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


class UnreadableFile(AppError, ValueError):
    """The file as a whole cannot be read (no header, not a table)."""


@dataclass
class TableFile:
    header: list[str]
    encoding: str
    delimiter: str
    chunks: Iterator[Chunk]
    total_lines: int = 0  # lines of the file (rows of a workbook's sheet, header included): progress is line / this


def open_table(
    path: str | Path, *, delimiter: str | None = None, encoding: str | None = None, chunk_rows: int = CHUNK_ROWS
) -> TableFile:
    path = Path(path)
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        return _open_xlsx(path, chunk_rows)
    return open_csv_bytes(path.read_bytes(), delimiter=delimiter, encoding=encoding, chunk_rows=chunk_rows)


def open_csv_bytes(
    data: bytes, *, delimiter: str | None = None, encoding: str | None = None, chunk_rows: int = CHUNK_ROWS
) -> TableFile:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        encoding = encoding or "utf-8"
    encoding = encoding or detect_encoding(data)
    lines = data.splitlines(keepends=True)
    if not lines or not lines[0].strip():
        raise UnreadableFile("The file is empty or its first line (the header) is blank.")
    header_text = lines[0].decode(encoding, errors="replace")
    delimiter = delimiter or sniff_delimiter(b"".join(lines[:50]).decode(encoding, errors="replace"))
    header = [h.strip() for h in next(csv.reader([header_text], delimiter=delimiter))]
    if len(header) < 2 and delimiter not in header_text:
        raise UnreadableFile("Could not find the columns: the header has a single column and no known delimiter.")
    chunks = _csv_chunks(lines, header, encoding, delimiter, chunk_rows)
    return TableFile(header, encoding, delimiter, chunks, total_lines=len(lines))


def detect_encoding(data: bytes) -> str:
    """UTF-8 unless no line with non-ASCII bytes is valid UTF-8 and at least 1 % of the lines are not
    (then it is a Windows-1252 export). A UTF-8 file with a few broken lines stays UTF-8 and those lines
    are quarantined; `--encoding` overrides the guess."""
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    good = bad = 0
    lines = data.splitlines()
    for line in lines:
        if max(line, default=0) < 128:
            continue
        try:
            line.decode("utf-8")
            good += 1
        except UnicodeDecodeError:
            bad += 1
    return "cp1252" if good == 0 and bad >= 0.01 * len(lines) else "utf-8"


def sniff_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample[:SNIFF_BYTES], delimiters=DELIMITERS).delimiter
    except csv.Error:
        first = sample.splitlines()[0] if sample else ""
        return max(DELIMITERS, key=first.count)


MAX_RECORD_LINES = 50
FAST_BLOCK = 10_000


def _fast_block(lines, index, encoding, delimiter, width, chunk: Chunk, size: int = FAST_BLOCK) -> bool:
    """A block of lines with no quote character that decodes cleanly splits by the delimiter directly
    (most exports); any other block goes through the careful path."""
    block = lines[index : index + size]
    joined = b"".join(block)
    if b'"' in joined:
        return False
    try:
        joined.decode(encoding)
    except UnicodeDecodeError:
        return False
    for offset, raw in enumerate(block):
        line = raw.decode(encoding).rstrip("\r\n")
        if not line.strip():
            continue
        number = index + offset + 1
        fields = line.split(delimiter)
        if len(fields) == width:
            chunk.lines.append(number)
            chunk.rows.append(fields)
            chunk.raws.append(line)
        else:
            chunk.problems.append(
                Problem(number, "", "column_count", f"Expected {width} columns, found {len(fields)}.", line[:2000])
            )
    return True


def _csv_chunks(lines, header, encoding, delimiter, chunk_rows) -> Iterator[Chunk]:
    """Assemble records line by line: a quoted field may span lines, but an unclosed quote costs only
    its own line (it is quarantined after MAX_RECORD_LINES lines without a closing quote)."""
    width = len(header)
    chunk = Chunk()
    index, total = 1, len(lines)
    size = max(1, min(FAST_BLOCK, chunk_rows))  # a block never makes a chunk larger than asked for
    while index < total:
        if (index - 1) % size == 0 and _fast_block(lines, index, encoding, delimiter, width, chunk, size):
            index = min(total, index + size)
            if len(chunk.lines) + len(chunk.problems) >= chunk_rows:
                yield chunk
                chunk = Chunk()
            continue
        record = _plain_record(lines[index], encoding, delimiter, width)
        if record is not None:  # fast path: a line without quotes, valid bytes and the right width
            index += 1
            if record:
                chunk.lines.append(index)
                chunk.rows.append(record)
                chunk.raws.append(delimiter.join(record)[:2000])
                if len(chunk.lines) + len(chunk.problems) >= chunk_rows:
                    yield chunk
                    chunk = Chunk()
            continue
        start, index_before = index + 1, index
        text, broken, end = _assemble(lines, index, encoding)
        index = end
        raw = text.rstrip("\r\n")[:2000]
        if not raw.strip():
            continue  # a blank line is not a row
        problem, record = None, []
        if broken is None:
            problem = Problem(start, "", "unbalanced_quote", "A quote opened on this line is never closed.", raw)
        else:
            try:
                record = next(csv.reader([text], delimiter=delimiter, strict=True))
            except (csv.Error, StopIteration) as error:
                problem = Problem(start, "", "malformed_csv", f"Malformed CSV: {error}.", raw)
            if end > index_before + 1 and (problem is not None or len(record) != width):
                # A quote that opened a field across lines did not make a record: blame the first line only.
                first = lines[index_before].decode(encoding, errors="replace").rstrip("\r\n")
                problem = Problem(
                    start, "", "unbalanced_quote", "A quote opened on this line is never closed.", first[:2000]
                )
                index = index_before + 1
        if problem is not None and problem.code in {"unbalanced_quote", "malformed_csv"} and delimiter == "\t":
            # Tab-separated exports usually do not quote: a quote there is text, if the line splits cleanly.
            first = lines[index_before].decode(encoding, errors="replace").rstrip("\r\n")
            plain = first.split("\t")
            if len(plain) == width:
                problem, record, index = None, plain, index_before + 1
                broken = "\ufffd" in first
        if problem is None and broken:
            column = next((header[i] for i, v in enumerate(record[:width]) if "\ufffd" in v), "")
            problem = Problem(start, column, "bad_encoding", f"Bytes that are not valid {encoding} text.", raw)
        if problem is None and len(record) != width:
            problem = Problem(start, "", "column_count", f"Expected {width} columns, found {len(record)}.", raw)
        if problem is not None:
            chunk.problems.append(problem)
        else:
            chunk.lines.append(start)
            chunk.rows.append(record)
            chunk.raws.append(raw)
        if len(chunk.lines) + len(chunk.problems) >= chunk_rows:
            yield chunk
            chunk = Chunk()
    if chunk.lines or chunk.problems:
        yield chunk


def _plain_record(line: bytes, encoding: str, delimiter: str, width: int) -> list[str] | None:
    """The fields of a line that needs no CSV parsing ([] for a blank line), or None for the careful path."""
    if b'"' in line:
        return None
    try:
        text = line.decode(encoding).rstrip("\r\n")
    except UnicodeDecodeError:
        return None
    if not text.strip():
        return []
    record = text.split(delimiter)
    return record if len(record) == width else None


def _assemble(lines: list[bytes], index: int, encoding: str):
    """Join physical lines from `index` until quotes balance. Returns (text, broken, next_index);
    broken is True when a line had invalid bytes, None when the quote never closed."""
    parts, broken = [], False
    quotes = 0
    for offset in range(MAX_RECORD_LINES):
        position = index + offset
        if position >= len(lines):
            break
        raw = lines[position]
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            broken = True
            text = raw.decode(encoding, errors="replace")
        parts.append(text)
        quotes += text.count('"')
        if quotes % 2 == 0:
            return "".join(parts), broken, position + 1
    first = lines[index].decode(encoding, errors="replace")
    return first, None, index + 1


def _open_xlsx(path: Path, chunk_rows: int) -> TableFile:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many types for a broken workbook
        raise UnreadableFile(f"Not a readable .xlsx workbook: {error}") from error
    sheet = book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    try:
        header = [str(v).strip() if v is not None else "" for v in next(rows)]
    except StopIteration:
        raise UnreadableFile("The workbook's first sheet is empty.") from None

    def chunks() -> Iterator[Chunk]:
        chunk = Chunk()
        for number, values in enumerate(rows, start=2):
            cells = ["" if v is None else _cell_text(v) for v in values]
            cells = cells[: len(header)] + [""] * (len(header) - len(cells))
            if not any(c.strip() for c in cells):
                continue
            chunk.lines.append(number)
            chunk.rows.append(cells)
            chunk.raws.append(",".join(cells)[:2000])
            if len(chunk.lines) >= chunk_rows:
                yield chunk
                chunk = Chunk()
        if chunk.lines:
            yield chunk
        book.close()

    return TableFile(header, "xlsx", ",", chunks(), total_lines=_xlsx_row_total(path, sheet))


ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s>/]")


def _xlsx_row_total(path: Path, sheet) -> int:
    """The rows of a sheet: the larger of its declared dimension (often missing or wrong, e.g. "A1") and the row
    elements of its XML, counted while streaming the part out of the archive (cheap next to parsing it)."""
    declared = sheet.max_row or 0
    part = getattr(sheet, "_worksheet_path", None)
    if not part:
        return declared
    counted, tail = 0, b""
    with zipfile.ZipFile(path) as archive, archive.open(part) as source:
        while block := source.read(1 << 20):
            data = tail + block
            # a tag that ends inside the carried-over tail was counted with the previous block
            counted += sum(1 for match in ROW_TAG.finditer(data) if match.end() > len(tail))
            tail = data[-64:]
    return max(declared, counted)


def _cell_text(value) -> str:
    import datetime

    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, datetime.date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def records_to_csv_bytes(header: list[str], rows: list[dict]) -> bytes:
    """JSON batches from the API go through the same reader as files: one code path for both."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if row.get(h) is None else str(row.get(h)) for h in header])
    return buffer.getvalue().encode("utf-8")
