"""The API's JSON parser: the body is checked before it is decoded, so that a NUL character (which PostgreSQL
refuses in text) or nesting deeper than `CARTPORTAL_MAX_JSON_DEPTH` (which would exhaust the decoder's recursion)
answers 400 in the one error shape instead of a 500 somewhere later."""

from __future__ import annotations

import io
import re

from django.conf import settings
from rest_framework.parsers import JSONParser

from cartportal.errors import AppError

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_BRACKET = re.compile(rb"[\[\]{}]")


def json_depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects, ignoring brackets inside strings."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', raw)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def check_json_body(raw: bytes, max_depth: int) -> None:
    if b"\x00" in raw or _NUL_ESCAPE.search(raw):
        raise AppError("The JSON body contains a NUL character.", "invalid")
    if json_depth(raw) > max_depth:
        raise AppError(f"The JSON body is nested deeper than {max_depth} levels.", "invalid")


class CheckedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        check_json_body(raw, settings.CARTPORTAL_MAX_JSON_DEPTH)
        return super().parse(io.BytesIO(raw), media_type, parser_context)
