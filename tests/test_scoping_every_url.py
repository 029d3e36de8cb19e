"""One shared set of scoping checks over every URL and every region-owned model (see tests/scoping.py)."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from cartportal.access import ROLES
from cartportal.models import RegionScopedQuerySet
from tests.scoping import all_specs

SKIP_NAMESPACES = {"admin"}


def _url_names(resolver=None, namespace: str = "") -> set[str]:
    names: set[str] = set()
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or ""
            if ns in SKIP_NAMESPACES:
                continue
            names |= _url_names(entry, f"{namespace}{ns}:" if ns else namespace)
        elif isinstance(entry, URLPattern) and entry.name:
            names.add(namespace + entry.name)
    return names


SPECS = all_specs()


def test_every_url_has_a_scoping_spec():
    missing = sorted(_url_names() - set(SPECS))
    assert not missing, f"URLs with no entry in tests/<app>/scoping.py: {missing}"


def test_every_region_owned_model_is_scoped():
    unscoped = []
    for model in apps.get_models():
        if any(f.name == "region" and f.is_relation for f in model._meta.get_fields()):
            if not isinstance(model._default_manager.get_queryset(), RegionScopedQuerySet):
                unscoped.append(model._meta.label)
    assert not unscoped, f"region-owned models without RegionScopedQuerySet: {unscoped}"


def _client(user) -> Client:
    client = Client()
    if user is not None and user.is_authenticated:
        client.force_login(user)
    return client


def _is_api(name: str, spec, url: str) -> bool:
    return spec.api if spec.api is not None else url.startswith("/api/")


def _allowed(user, spec) -> bool:
    if spec.roles is None:
        return True
    return user.is_superuser or bool(set(user.groups.values_list("name", flat=True)) & spec.roles)


def _get(client, url, spec):
    return client.get(url + (("?" + spec.query) if spec.query else ""), HTTP_ACCEPT="text/html")


CHECKED = sorted((n, s) for n, s in SPECS.items() if s.kind != "public")


@pytest.mark.django_db
@pytest.mark.parametrize("name,spec", CHECKED, ids=[n for n, _ in CHECKED])
def test_url_scoping(name, spec, world):
    own_kwargs = spec.make(world, world.region_a) if spec.make else {}
    foreign_kwargs = spec.make(world, world.region_b) if spec.make else None
    markers = spec.seed(world) if spec.seed else (None, None)
    url = reverse(name, kwargs=own_kwargs)
    api = _is_api(name, spec, url)

    anon = _get(_client(None), url, spec)
    if api:
        assert anon.status_code in (401, 403), f"{name}: anonymous got {anon.status_code}"
    else:
        sent_to_login = anon.status_code == 302 and "/accounts/login/" in anon["Location"]
        assert sent_to_login, f"{name}: anonymous not sent to login"

    manager = world.manager_a
    response = _get(_client(manager), url, spec)
    if not _allowed(manager, spec):
        assert response.status_code == spec.denied_status, f"{name}: manager got {response.status_code}"
        if markers[0]:
            assert markers[0] not in response.content.decode(), f"{name}: role-restricted content leaked"
    else:
        assert response.status_code == spec.get_status, f"{name}: manager of own region got {response.status_code}"
        body = response.content.decode()
        if markers[0]:
            assert markers[0] in body, f"{name}: own row not shown"
        if markers[1]:
            assert markers[1] not in body, f"{name}: FOREIGN row shown to manager of region A"

    if spec.kind == "object":
        foreign = _get(_client(manager), reverse(name, kwargs=foreign_kwargs), spec)
        missing = _get(_client(manager), reverse(name, kwargs=spec.missing), spec)
        assert foreign.status_code == 404, f"{name}: foreign object gave {foreign.status_code}"
        assert missing.status_code == 404, f"{name}: missing object gave {missing.status_code}"
        if api:
            assert foreign.json() == missing.json(), f"{name}: foreign and missing answers differ"
        exec_response = _get(_client(world.executive), reverse(name, kwargs=foreign_kwargs), spec)
        expected = 200 if _allowed(world.executive, spec) else spec.denied_status
        assert exec_response.status_code == expected, f"{name}: executive got {exec_response.status_code}"

    weak = _get(_client(world.model_perm_only), url, spec)
    if spec.kind == "object":
        assert weak.status_code in (404, spec.denied_status), f"{name}: model-permission-only user got in"
    elif markers[0]:
        assert markers[0] not in weak.content.decode(), f"{name}: model-permission-only user sees region data"

    if spec.post:
        kwargs, data, snapshot = spec.post(world, world.region_b)
        before = snapshot()
        result = (
            _client(manager).post(reverse(name, kwargs=kwargs), data, content_type="application/json")
            if api
            else _client(manager).post(reverse(name, kwargs=kwargs), data)
        )
        assert result.status_code in spec.post_denied, f"{name}: foreign write answered {result.status_code}"
        assert snapshot() == before, f"{name}: a foreign write changed rows"


def test_roles_are_the_documented_six():
    assert ROLES == ["Analyst", "RegionalManager", "Executive", "Compliance", "Partner", "Admin"]
