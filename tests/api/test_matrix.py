"""The authorization matrix (tests/api/matrix.yaml) run as requests: every operation x every principal x
(own, foreign, missing, malformed id), plus 0 foreign rows in any list, filter, export or count, and a
meta-test that fails when an operation of the URLconf or of the OpenAPI schema is missing from the matrix."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
import yaml
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone

from cartportal.access import PARTNER, grant_region, region_ids_for
from cartportal.models import PartnerToken, Region
from tests.api.operations import OPERATIONS

MATRIX = yaml.safe_load((Path(__file__).parent / "matrix.yaml").read_text())["operations"]
PRINCIPALS = [
    "anonymous",
    "manager_a",
    "manager_b",
    "analyst_a",
    "executive",
    "compliance",
    "model_perm_only",
    "token_read",
    "token_rw",
    "token_revoked",
]
ID_KINDS = ["own", "foreign", "missing", "malformed"]
PLACEHOLDER = re.compile(r"\{[^}]+\}")


def _token(world, scopes, *, revoked=False) -> str:
    key = PartnerToken.new_key()
    token = PartnerToken.objects.create(
        name=f"matrix-{'-'.join(scopes)}{'-revoked' if revoked else ''}",
        user=world.partner,
        scopes=scopes,
        key_prefix=key[:10],
        key_hash=PartnerToken.hash_key(key),
        revoked_at=timezone.now() if revoked else None,
    )
    token.regions.set([world.region_a])
    return key


class Principal:
    def __init__(self, name, client, allowed_codes):
        self.name, self.client, self.allowed_codes = name, client, allowed_codes


def _principals(world) -> dict[str, Principal]:
    # The tokens' user may act in both regions; its tokens are bound to region A only, so every answer shows that
    # a token narrows its user (and the import jobs of tests/api/operations.py are started by this user).
    grant_region(world.partner, world.region_b, PARTNER)
    out = {}
    region_codes = {r.pk: r.code for r in Region.objects.all()}
    for name in PRINCIPALS:
        client = Client()
        if name.startswith("token_"):
            scopes = {"token_read": ["read"], "token_rw": ["read", "write"], "token_revoked": ["read", "write"]}
            key = _token(world, scopes[name], revoked=name == "token_revoked")
            client.defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
            allowed = {world.region_a.code}
        else:
            user = getattr(world, name)
            if user.is_authenticated:
                client.force_login(user)
            ids = region_ids_for(user, "view")
            allowed = set(region_codes.values()) if ids is None else {region_codes[i] for i in ids}
        out[name] = Principal(name, client, allowed)
    return out


def _expected(op: str, principal: str) -> list[int]:
    return [int(v) for v in str(MATRIX[op][principal]).split()]


def _send(client, method, url, body):
    if method == "GET":
        return client.get(url)
    return client.generic(method, url, data=__import__("json").dumps(body or {}), content_type="application/json")


def _url(op: str, object_id) -> str:
    path = op.split(" ", 1)[1]
    return PLACEHOLDER.sub(str(object_id), path) if object_id is not None else path


def _list_rows(response) -> list[dict]:
    data = response.json()
    return data["results"] if isinstance(data, dict) and "results" in data else data


def _foreign_rows(op, principal, response) -> list[str]:
    spec = OPERATIONS[op]
    if spec.row_region is None:
        return []
    problems = []
    for row in _list_rows(response):
        code = spec.row_region(row)
        if code not in principal.allowed_codes:
            problems.append(f"{op} as {principal.name}: foreign row of region {code!r} in the list")
    return problems


def _export_and_filter_checks(op, principal, world) -> list[str]:
    """The same list filtered by a foreign region, and exported as CSV: still 0 foreign rows, and the
    count agrees with what the caller may see."""
    spec = OPERATIONS[op]
    path = op.split(" ", 1)[1]
    problems = []
    client = principal.client
    foreign_codes = {world.region_a.code, world.region_b.code} - principal.allowed_codes
    for code in foreign_codes:
        filtered = client.get(path, {"region": code})
        if filtered.status_code == 200:
            data = filtered.json()
            if data.get("count", 0) != 0 or data.get("results"):
                problems.append(f"{op} as {principal.name}: ?region={code} returned {data.get('count')} rows")
    exported = client.get(path, {"format": "csv"})
    if exported.status_code != 200 or not exported["Content-Type"].startswith("text/csv"):
        problems.append(f"{op} as {principal.name}: CSV export answered {exported.status_code}")
        return problems
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    for row in rows:
        code = spec.row_region(row)
        if code not in principal.allowed_codes:
            problems.append(f"{op} as {principal.name}: foreign row of region {code!r} in the CSV export")
    listed = client.get(path, {"page_size": 500}).json()
    if listed["count"] != len(rows):
        problems.append(f"{op} as {principal.name}: count {listed['count']} but the export has {len(rows)} rows")
    return problems


def _check_operation(op, world, principals) -> list[str]:
    spec = OPERATIONS[op]
    method = op.split(" ", 1)[0]
    mismatches = []
    if spec.seed:
        spec.seed(world)
    for name in PRINCIPALS:
        principal = principals[name]
        expected = _expected(op, name)
        if spec.make is None:
            kinds = [(None, None)]
        else:
            kinds = [
                ("own", spec.make(world, world.region_a)),
                ("foreign", spec.make(world, world.region_b)),
                ("missing", spec.missing_id),
                ("malformed", spec.malformed_id),
            ]
        if len(expected) != len(kinds):
            mismatches.append(f"{op} / {name}: matrix cell has {len(expected)} statuses, expected {len(kinds)}")
            continue
        for (kind, object_id), want in zip(kinds, expected, strict=True):
            body = spec.body(world, world.region_a) if spec.body else None
            before = spec.snapshot(world) if spec.snapshot else None
            response = _send(principal.client, method, _url(op, object_id), body)
            where = f"{op} / {name}" + (f" / {kind}" if kind else "")
            if response.status_code != want:
                mismatches.append(f"{where}: expected {want}, got {response.status_code}")
            if spec.snapshot and response.status_code >= 300 and spec.snapshot(world) != before:
                mismatches.append(f"{where}: a refused write changed data")
            if response.status_code >= 400 and response.get("Content-Type", "").startswith("application/json"):
                error = response.json().get("error")
                if not (isinstance(error, dict) and error.get("status") == response.status_code):
                    mismatches.append(f"{where}: error body not in the API's one shape")
            if kind is None and method == "GET" and response.status_code == 200 and spec.row_region:
                mismatches += _foreign_rows(op, principal, response)
                mismatches += _export_and_filter_checks(op, principal, world)
    return mismatches


@pytest.mark.django_db
def test_matrix_has_zero_mismatches(world):
    principals = _principals(world)
    mismatches = []
    for op in MATRIX:
        mismatches += _check_operation(op, world, principals)
    assert mismatches == [], f"{len(mismatches)} mismatches:\n" + "\n".join(mismatches)


# --- Meta-tests: nothing of the API escapes the matrix --------------------------------------------------
def _api_url_names(resolver=None, prefix="") -> set[str]:
    names = set()
    for entry in (resolver or get_resolver()).url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            names |= _api_url_names(entry, route)
        elif isinstance(entry, URLPattern) and entry.name and route.startswith("api/"):
            ns = ""
            names.add(ns + entry.name)
    return names


def _schema_operations() -> set[str]:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    methods = {"get", "post", "put", "patch", "delete"}
    return {f"{m.upper()} {path}" for path, item in schema["paths"].items() for m in item if m in methods}


def test_every_schema_operation_is_in_the_matrix():
    missing = sorted(_schema_operations() - set(MATRIX))
    assert not missing, f"operations of the OpenAPI schema missing from tests/api/matrix.yaml: {missing}"


def test_every_api_url_of_the_urlconf_is_in_the_matrix():
    def sample(match):  # an id-like value for ids, a word for other path parameters ({kind})
        return "1" if match.group(0).endswith("id}") else "word"

    covered = {resolve(PLACEHOLDER.sub(sample, op.split(" ", 1)[1])).url_name for op in MATRIX}
    missing = sorted(_api_url_names() - covered)
    assert not missing, f"API URLs with no operation in tests/api/matrix.yaml: {missing}"


def test_every_matrix_row_is_complete_and_buildable():
    problems = []
    for op, cells in MATRIX.items():
        if op not in OPERATIONS:
            problems.append(f"{op}: no request builder in tests/api/operations.py")
        if set(cells) != set(PRINCIPALS):
            problems.append(f"{op}: principals {sorted(set(PRINCIPALS) ^ set(cells))} missing or unknown")
        has_id = bool(PLACEHOLDER.search(op))
        if op in OPERATIONS and has_id != (OPERATIONS[op].make is not None):
            problems.append(f"{op}: an operation with an id needs make(), one without must not have it")
    assert not problems, "\n".join(problems)
