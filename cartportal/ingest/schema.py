"""What an import expects, field by field, and the vectorised validation of a chunk of rows.

A spec lists canonical fields with a type, range and the column names shops commonly use for them, so
that an export loads without editing (an explicit column mapping always wins over the guess).
Validation returns, per row, the first problem found: the canonical field, an error code and a message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

TRUE_WORDS = {"true", "t", "yes", "y", "1", "ja", "oui", "si", "sim"}
FALSE_WORDS = {"false", "f", "no", "n", "0", "nein", "non", "nao", "não"}
DATE_FORMATS = [
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y",
    "%Y%m%d",
]


@dataclass(frozen=True)
class Field:
    name: str
    kind: str = "text"  # text, int, decimal, datetime, bool, choice
    required: bool = False
    min: float | None = None
    max: float | None = None
    choices: dict[str, str] | None = None
    synonyms: tuple[str, ...] = ()
    max_length: int | None = None
    allow_future: bool = False
    digits: tuple[int, int] | None = None  # (precision, scale) of the numeric column a decimal field loads into


@dataclass(frozen=True)
class EntitySpec:
    kind: str
    label: str
    fields: tuple[Field, ...]
    key: tuple[str, ...] = ()
    help: str = ""

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)


def normalise_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def guess_mapping(spec: EntitySpec, header: list[str]) -> dict[str, str]:
    """Canonical field -> column of the file, by name and common synonyms."""
    by_norm = {normalise_name(h): h for h in header}
    mapping = {}
    for f in spec.fields:
        for candidate in (f.name, *f.synonyms):
            column = by_norm.get(normalise_name(candidate))
            if column is not None and column not in mapping.values():
                mapping[f.name] = column
                break
    return mapping


# What fits the columns: PostgreSQL's integer, and dates a shop's records can hold (a date outside is a typo or
# a placeholder such as 1900-01-01 / 9999-12-31, and would wreck every recency and tenure figure).
INT_RANGE = (-(2**31), 2**31 - 1)
EARLIEST_DATE = pd.Timestamp("1970-01-01", tz="UTC")
FUTURE_YEARS = 20  # how far a field that may hold future dates (a promised delivery) may reach
NON_FINITE_WORDS = {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}


class Problems:
    """The first problem of each row of a chunk, kept as aligned arrays (vectorised)."""

    def __init__(self, size: int):
        self.field = np.full(size, None, dtype=object)
        self.code = np.full(size, None, dtype=object)
        self.message = np.full(size, None, dtype=object)

    def add(self, mask, field_name: str, code: str, message) -> None:
        mask = np.asarray(mask, dtype=bool) & (self.code == None)  # noqa: E711 (elementwise)
        if not mask.any():
            return
        self.field[mask] = field_name
        self.code[mask] = code
        if isinstance(message, str):
            self.message[mask] = message
        else:
            self.message[mask] = np.asarray(message, dtype=object)[mask]

    @property
    def bad(self) -> np.ndarray:
        return self.code != None  # noqa: E711


def validate(
    spec: EntitySpec,
    frame: pd.DataFrame,
    *,
    column_of: dict[str, str],
    date_formats: dict[str, str | None],
    now: pd.Timestamp,
) -> tuple[pd.DataFrame, Problems]:
    """Parse every mapped field of `frame` (all text) into typed columns; collect the first problem per row."""
    problems = Problems(len(frame))
    parsed = pd.DataFrame(index=frame.index)
    for f in spec.fields:
        if f.name not in frame.columns:
            if f.required:
                problems.add(
                    np.ones(len(frame), bool), f.name, "missing_required", f"Required field {f.name} has no column."
                )
            continue
        text = frame[f.name].fillna("").astype(str).str.strip()
        empty = text.eq("").to_numpy()
        label = column_of.get(f.name, f.name)
        if f.required:
            problems.add(empty, f.name, "missing_required", f"{label} is empty but required.")
        value, invalid, code, message = _parse(f, text, empty, label, date_formats.get(f.name))
        if f.kind in {"int", "decimal"}:
            not_finite = _non_finite(value, text, empty)
            problems.add(not_finite, f.name, "not_finite", f"{label} is not a finite number.")
            invalid = invalid & ~not_finite
        if f.kind == "datetime":  # 0001-01-01 or 9999-12-31 (beyond what parses) are far dates, not bad ones
            far = _far_years(text, invalid)
            problems.add(far, f.name, "date_out_of_range", f"{label} is too far in the past or the future.")
            invalid = invalid & ~far
        problems.add(invalid, f.name, code, message)
        parsed[f.name] = value
        if f.kind in {"int", "decimal"}:
            _check_range(f, value, empty, label, problems)
        if f.kind == "datetime":
            _check_dates(f, value, empty | invalid, label, now, problems)
        if f.kind in {"text", "choice"} and f.max_length:
            too_long = text.str.len().to_numpy() > f.max_length
            problems.add(too_long, f.name, "too_long", f"{label} is longer than {f.max_length} characters.")
    return parsed, problems


def _parse(f: Field, text: pd.Series, empty: np.ndarray, label: str, date_format: str | None):
    if f.kind == "text":
        return text.where(~empty, None), np.zeros(len(text), bool), "", ""
    if f.kind in {"int", "decimal"}:
        value = parse_number(text)
        invalid = ~empty & value.isna().to_numpy()
        if f.kind == "int":
            fractional = (~invalid & ~empty) & (value.fillna(0) % 1 != 0).to_numpy()
            invalid = invalid | fractional
            return value, invalid, "not_a_number", f"{label} is not a whole number."
        return value, invalid, "not_a_number", f"{label} is not a number."
    if f.kind == "datetime":
        value = parse_dates(text, date_format)
        invalid = ~empty & value.isna().to_numpy()
        fmt = f" (expected {date_format})" if date_format else ""
        return value, invalid, "bad_date", f"{label} is not a date{fmt}."
    if f.kind == "bool":
        lowered = text.str.lower()
        value = pd.Series(
            np.where(lowered.isin(TRUE_WORDS), True, np.where(lowered.isin(FALSE_WORDS), False, None)),
            index=text.index,
            dtype=object,
        )
        invalid = ~empty & value.isna().to_numpy()
        return value, invalid, "not_a_boolean", f"{label} is not yes/no."
    if f.kind == "choice":
        value = text.str.lower().map(f.choices)
        invalid = ~empty & value.isna().to_numpy()
        allowed = ", ".join(sorted(set(f.choices.values())))
        return value.where(~empty, None), invalid, "bad_choice", f"{label} is not one of: {allowed}."
    raise ValueError(f"unknown field kind {f.kind}")


def _non_finite(value: pd.Series, text: pd.Series, empty: np.ndarray) -> np.ndarray:
    """Infinities (inf, 1e400) and NaN written as a word; only the few values that parsed to neither a finite
    number nor nothing are looked at as text."""
    numbers = value.to_numpy(dtype=float, na_value=np.nan)
    out = ~empty & np.isinf(numbers)
    unparsed = ~empty & np.isnan(numbers)
    if unparsed.any():
        out[unparsed] = text[unparsed].str.lower().isin(NON_FINITE_WORDS).to_numpy()
    return out


def _check_range(f: Field, value: pd.Series, empty: np.ndarray, label: str, problems: Problems) -> None:
    numbers = value.to_numpy(dtype=float, na_value=np.nan)
    finite = ~empty & np.isfinite(numbers)
    if f.min is not None:
        low = finite & (numbers < f.min)
        code = "negative_value" if f.min == 0 else "out_of_range"
        problems.add(low, f.name, code, f"{label} is below {f.min:g}.")
    if f.max is not None:
        high = finite & (numbers > f.max)
        problems.add(high, f.name, "out_of_range", f"{label} is above {f.max:g}.")
    if f.kind == "int":
        low, high = INT_RANGE
        outside = finite & ((numbers < low) | (numbers > high))
        problems.add(outside, f.name, "out_of_range", f"{label} is beyond the range of whole numbers ({high:,}).")
    if f.digits:
        precision, scale = f.digits
        limit = 10.0 ** (precision - scale)
        outside = finite & (np.abs(np.round(numbers, scale)) >= limit)
        message = f"{label} does not fit {precision} digits with {scale} decimals (at most {limit:,.0f})."
        problems.add(outside, f.name, "out_of_range", message)


def _far_years(text: pd.Series, invalid: np.ndarray) -> np.ndarray:
    """Among dates that did not parse, those whose year is beyond what a date can hold here."""
    out = np.zeros(len(text), dtype=bool)
    if invalid.any():
        years = pd.to_numeric(text[invalid].str.extract(r"(?<!\d)(\d{4})(?!\d)", expand=False), errors="coerce")
        far = (years < EARLIEST_DATE.year) | (years > pd.Timestamp.max.year)
        out[invalid] = far.to_numpy(dtype=bool, na_value=False)
    return out


def _check_dates(f: Field, value: pd.Series, skip: np.ndarray, label: str, now: pd.Timestamp, problems) -> None:
    latest = now + (pd.DateOffset(years=FUTURE_YEARS) if f.allow_future else pd.Timedelta(days=1))
    known = ~skip & value.notna().to_numpy()
    early = known & (value < EARLIEST_DATE).to_numpy(dtype=bool, na_value=False)
    problems.add(early, f.name, "date_out_of_range", f"{label} is before {EARLIEST_DATE:%Y-%m-%d}.")
    late = known & (value > latest).to_numpy(dtype=bool, na_value=False)
    if f.allow_future:
        problems.add(late, f.name, "date_out_of_range", f"{label} is more than {FUTURE_YEARS} years ahead.")
    else:
        problems.add(late, f.name, "future_date", f"{label} is in the future.")


_CURRENCY = re.compile(r"[\s$€£¥]|R\$")


def parse_number(text: pd.Series) -> pd.Series:
    """Numbers as shops write them: 1234.5, 1,234.50, 1.234,50, 12,5, '£3.20'."""
    plain = pd.to_numeric(text.where(text.ne(""), None), errors="coerce")
    retry = plain.isna() & text.ne("")
    if not retry.any():
        return plain
    plain[retry] = _parse_formatted(text[retry])
    return plain


def _parse_formatted(text: pd.Series) -> pd.Series:
    cleaned = text.str.replace(_CURRENCY, "", regex=True)
    comma_decimal = cleaned.str.fullmatch(r"-?\d{1,3}(\.\d{3})*,\d+|-?\d+,\d{1,2}")
    cleaned = cleaned.where(
        ~comma_decimal, cleaned.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    )
    cleaned = cleaned.str.replace(r"(?<=\d),(?=\d{3}(\D|$))", "", regex=True)
    return pd.to_numeric(cleaned.where(cleaned.ne(""), None), errors="coerce")


def detect_date_format(sample: pd.Series) -> str | None:
    """The format that parses the most of a sample; None when nothing fits (then mixed parsing)."""
    values = sample[sample.ne("")].head(2000)
    if values.empty:
        return None
    best, best_count = None, 0
    for fmt in DATE_FORMATS:
        count = pd.to_datetime(values, format=fmt, errors="coerce").notna().sum()
        if count > best_count:
            best, best_count = fmt, count
    return best if best_count >= 0.5 * len(values) else None


_GMT_OFFSET = re.compile(r"\s*(?:GMT|UTC)\s*([+-])(\d{1,2}):?(\d{2})?$")


def _iso_offset(match: re.Match) -> str:
    return f" {match.group(1)}{int(match.group(2)):02d}:{match.group(3) or '00'}"


def parse_dates(text: pd.Series, date_format: str | None) -> pd.Series:
    """Dates in UTC; a date without an offset is taken as UTC. "GMT+5:30" style suffixes mean UTC+05:30."""
    values = text.where(text.ne(""), None)
    if values.str.contains(r"(?:GMT|UTC)\s*[+-]\d", regex=True, na=False).any():
        values = values.str.replace(_GMT_OFFSET, _iso_offset, regex=True)
    return pd.to_datetime(values, format=date_format or "mixed", errors="coerce", utc=True)
