"""CSV export for every table: `?format=csv` on a table page returns the same rows as a file."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence

from django.http import StreamingHttpResponse


class _Echo:
    def write(self, value: str) -> str:
        return value


def wants_csv(request) -> bool:
    return request.GET.get("format") == "csv"


# Characters that start a formula in some spreadsheet (full-width forms included: some locales accept them).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# A separator followed by a formula character: a spreadsheet whose locale splits on ";" (or a tab) would start a
# new cell there, with a formula in it, although the cell of this file does not start with one.
_INNER_FORMULA = re.compile(r"([;,\t])(\s*)(?=[=+\-@\uff1d\uff0b\uff0d\uff20])")


def safe_cell(value) -> object:
    """A cell that no spreadsheet runs as a formula, in any locale: a leading formula character is prefixed with
    a quote, and so is one that follows a separator inside the text (`semi;=1+1` -> `semi;'=1+1`)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        return value
    value = _INNER_FORMULA.sub(r"\1\2'", value)
    return "'" + value if value.startswith(FORMULA_START) else value


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence]) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([safe_cell(v) for v in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
