"""Portal writes: loading a customer-research survey, and recording audit-log exports."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd
from django.db import transaction

from cartportal.access import ensure_can
from cartportal.audit import record
from cartportal.models import Region, SurveyResponse
from cartportal.services import DomainError

AGE_NAMES = ("age", "age_years", "respondent_age")
GENDER_NAMES = ("gender", "sex")
TIME_NAMES = ("timestamp", "submitted_at", "submitted", "date", "time")
_TZ = re.compile(r"\s*(?:GMT|UTC)\s*([+-])(\d{1,2}):?(\d{2})?\s*$")


def question_key(header: str) -> str:
    """`Cart_Abandonment_Factors ` -> `cart_abandonment_factors`."""
    return re.sub(r"[^0-9a-z]+", "_", header.strip().lower()).strip("_")


def _parse_times(values: pd.Series) -> pd.Series:
    """Timestamps such as `2023/06/04 1:28:19 PM GMT+5:30`; unreadable ones become empty."""

    def offset(match: re.Match) -> str:
        return f" {match.group(1)}{int(match.group(2)):02d}:{match.group(3) or '00'}"

    text = values.astype("string").str.replace(_TZ, offset, regex=True)
    return pd.to_datetime(text, errors="coerce", utc=True, format="mixed")


def _pick(columns: dict[str, str], names: tuple[str, ...]) -> str | None:
    return next((columns[n] for n in names if n in columns), None)


def survey_import(*, actor, source: str | Path, region: Region) -> int:
    """Load a survey export (CSV, one respondent a row) into `region`. Age, gender and time columns are
    found by name; every other column is kept as an answer under its normalised header."""
    ensure_can(actor, "import", region.pk, what="region")
    try:
        frame = pd.read_csv(source, dtype=str, keep_default_na=False, sep=None, engine="python")
    except (OSError, UnicodeDecodeError, csv.Error, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise DomainError(f"The survey file could not be read: {error}") from error
    if frame.empty:
        raise DomainError("The survey file has no rows.")
    columns: dict[str, str] = {}
    for header in frame.columns:
        columns.setdefault(question_key(str(header)), header)
    age_col, gender_col, time_col = _pick(columns, AGE_NAMES), _pick(columns, GENDER_NAMES), _pick(columns, TIME_NAMES)
    ages = pd.to_numeric(frame[age_col], errors="coerce") if age_col else pd.Series([None] * len(frame))
    times = _parse_times(frame[time_col]) if time_col else pd.Series([pd.NaT] * len(frame))
    answer_cols = [(key, col) for key, col in columns.items() if col not in (age_col, gender_col, time_col)]
    rows = []
    for i, record_ in enumerate(frame.to_dict("records")):
        age = ages.iloc[i]
        rows.append(
            SurveyResponse(
                region=region,
                submitted_at=None if pd.isna(times.iloc[i]) else times.iloc[i].to_pydatetime(),
                age=int(age) if pd.notna(age) and 0 < age < 120 else None,
                gender=(record_[gender_col].strip()[:32] if gender_col else ""),
                answers={key: str(record_[col]).strip() for key, col in answer_cols},
            )
        )
    with transaction.atomic():
        SurveyResponse.objects.bulk_create(rows, batch_size=2000)
        record(
            actor=actor,
            action="survey.imported",
            object_type="region",
            object_id=region.pk,
            region_code=region.code,
            after={"rows": len(rows), "questions": len(answer_cols)},
        )
    return len(rows)


def audit_export_record(*, actor, filters: dict, rows: int) -> None:
    """Reading the audit trail out of the portal is itself on the record."""
    record(actor=actor, action="audit.exported", object_type="audit log", after={"filters": filters, "rows": rows})
