"""What erasure reaches beyond the customer row: the shop id remembered as a keyed hash (so that a re-import does
not bring the person back), quarantined raw rows, and uploaded files still on disk.

A raw row (a quarantined line, a line of an uploaded file) names the person when one of its fields, read as CSV,
equals their shop id, e-mail or name (case-insensitive). Such a quarantined row keeps its line, column and code,
but its raw text and message are replaced. A CSV-like upload keeps its other lines and line numbers: the person's
lines become blank (a blank line is not a row), so a queued or resumed import of it still runs; an .xlsx upload
that names them is deleted, as it cannot be rewritten in place. Exports are generated from the database on each
request, none is kept, so they follow the erased rows.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db.models import Q

from cartportal.models import ErasedCustomer, QuarantinedRow

REDACTED = "[redacted: names an erased customer]"
TEXT_SUFFIXES = {".csv", ".txt", ".tsv"}


def erasure_key_hash(external_id) -> str:
    """The keyed hash under which an erased customer's shop id is remembered."""
    configured = getattr(settings, "CARTPORTAL_ERASURE_KEY", "")
    key = (
        configured.encode()
        if configured
        else hashlib.sha256(b"cartportal erasure\0" + settings.SECRET_KEY.encode()).digest()
    )
    return hmac.new(key, b"customer\0" + str(external_id).strip().encode(), hashlib.sha256).hexdigest()


def erased_among(external_ids) -> set[str]:
    """The ids among `external_ids` that belong to erased customers."""
    by_hash = {erasure_key_hash(value): value for value in {str(v).strip() for v in external_ids if v is not None}}
    if not by_hash:
        return set()
    known = ErasedCustomer.objects.filter(key_hash__in=list(by_hash)).values_list("key_hash", flat=True)
    return {by_hash[key] for key in known}


@dataclass(frozen=True)
class Person:
    external_id: str
    email: str = ""
    name: str = ""

    def tokens(self) -> set[str]:
        return {t.strip().casefold() for t in (self.external_id, self.email, self.name) if t and t.strip()}

    def named_in(self, line: str, delimiter: str = ",") -> bool:
        tokens = self.tokens()
        if not tokens or not line.strip():
            return False
        if not any(token in line.casefold() for token in tokens):
            return False
        for separator in dict.fromkeys([delimiter or ",", ",", ";", "\t", "|"]):
            try:
                fields = next(csv.reader(io.StringIO(line), delimiter=separator), [])
            except csv.Error:
                fields = line.split(separator)
            if any(f.strip().casefold() in tokens for f in fields):
                return True
        return False


def redact_quarantine(person: Person) -> int:
    """Replace the raw text and message of every quarantined row that names the person; how many."""
    match = Q()
    for token in person.tokens():
        match |= Q(raw__icontains=token)
    if not match:
        return 0
    candidates = QuarantinedRow.objects.filter(match).select_related("job").only("id", "raw", "job__counts")
    ids = [row.id for row in candidates if person.named_in(row.raw, (row.job.counts or {}).get("delimiter") or ",")]
    return QuarantinedRow.objects.filter(id__in=ids).update(raw=REDACTED, message=REDACTED) if ids else 0


def redact_uploads(person: Person) -> dict:
    """Blank the person's lines in the CSV-like uploads still on disk and delete the workbooks that name them."""
    folder = Path(settings.CARTPORTAL_UPLOAD_DIR)
    result = {"uploads_redacted": 0, "uploads_deleted": 0}
    if not folder.is_dir():
        return result
    for path in sorted(folder.glob("import-*")):
        suffix = path.suffix.lower()
        if suffix in TEXT_SUFFIXES and _blank_lines_naming(path, person):
            result["uploads_redacted"] += 1
        elif suffix in {".xlsx", ".xlsm"} and _workbook_names(path, person):
            path.unlink(missing_ok=True)
            result["uploads_deleted"] += 1
    return result


def _blank_lines_naming(path: Path, person: Person) -> bool:
    data = path.read_bytes()
    encoding = "utf-8"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        encoding = "cp1252"
        text = data.decode(encoding, errors="replace")
    if not any(token in text.casefold() for token in person.tokens()):
        return False
    lines = text.splitlines(keepends=True)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    changed = False
    for number, line in enumerate(lines[1:], start=1):  # the header is not a person
        if person.named_in(line, delimiter):
            lines[number] = "\r\n" if line.endswith("\r\n") else "\n"
            changed = True
    if changed:
        temporary = path.with_name(path.name + ".erasing")
        temporary.write_bytes("".join(lines).encode(encoding, errors="replace"))
        os.replace(temporary, path)
    return changed


def _workbook_names(path: Path, person: Person) -> bool:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - an unreadable workbook cannot be checked: it is deleted to be safe
        return True
    try:
        tokens = person.tokens()
        for sheet in workbook.worksheets:
            for row in sheet.iter_rows(values_only=True):
                if any(cell is not None and str(cell).strip().casefold() in tokens for cell in row):
                    return True
        return False
    finally:
        workbook.close()
