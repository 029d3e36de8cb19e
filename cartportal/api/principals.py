"""The partner API's lean read path: a token, its user, roles and region ids resolved once and cached.

A partner's request would otherwise cost several queries before its own read (the token, the user's groups, the
region grants, the token's regions). The resolved principal is cached (Django's cache: Redis in production, shared
by every worker) under the key's hash, stamped with the access generation it was built in. Any change that could
alter what a token may do (the token itself, its regions, a user, their groups, a region grant) bumps the
generation, so every cached principal is stale from the next request on: a revoked token is refused on its very
next request. Each process also keeps the principals it resolved (bounded, for the same lifetime), so a request
reads only the generation from the shared cache, in the same round trip that counts it against the token's rate
(`lookup`); the entry is fetched (and unpickled) only when the process has none of the current generation. Expiry and
a future `revoked_at` are checked on every request against the cached token, so they need no invalidation.

Changes made behind the ORM's back (raw SQL, `QuerySet.update()` on tokens) fire no signal; the entries' short
lifetime (`API_PRINCIPAL_CACHE_SECONDS`) bounds how long such a change goes unseen. Revoke with
`cartportal.services.revoke_partner_token`, which saves the row.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from django.conf import settings
from django.core.cache import cache

from cartportal.cache import Generation, read_and_hit

GENERATION_KEY = "cp:access-generation"
GENERATION = Generation(GENERATION_KEY)
ENTRY_PREFIX = "cp:principal:"
ACTIONS = ("view", "change", "import", "approve")


def lifetime() -> int:
    return int(getattr(settings, "API_PRINCIPAL_CACHE_SECONDS", 300))


def _entry_key(key_hash: str) -> str:
    return ENTRY_PREFIX + key_hash


# key hash -> (generation, monotonic expiry, entry of bare rows): the principals this process resolved or fetched
_local: OrderedDict[str, tuple[str, float, dict]] = OrderedDict()
LOCAL_ENTRIES = 1024


def lookup(key_hash: str, ahead=None) -> tuple[tuple[object, object] | None, tuple[int, int] | None]:
    """(the (user, token) cached for a key hash when still of the current generation, else None; the counts of
    `cartportal.cache.hit` for `ahead` (a `CountAhead`), else None). The generation is read and the request counted
    in one round trip; the entry itself comes from this process's own copy when it is of that generation."""
    if ahead is None:  # not counted here: the shared entry comes along with the generation
        (generation, entry), counts = GENERATION.read(_entry_key(key_hash)), None
    else:
        (generation, counts), entry = read_and_hit(GENERATION_KEY, ahead.key, ahead.window, ahead.seconds), None
    if generation is None:
        return None, counts
    local = _local.get(key_hash)
    if local is not None and local[0] == generation and local[1] > time.monotonic():
        return _restore(_copied(local[2])), counts
    if ahead is not None:
        entry = cache.get(_entry_key(key_hash))
    if entry is None or entry.get("generation") != generation:
        return None, counts
    _keep(key_hash, entry)
    return _restore(_copied(entry)), counts


def kept_here(key_hash: str) -> bool:
    """Whether this process has resolved the token of this key hash (of any generation)."""
    return key_hash in _local


def _keep(key_hash: str, entry: dict) -> None:
    """Keep an entry of bare rows in this process for at most the shared entry's lifetime."""
    _local.pop(key_hash, None)
    _local[key_hash] = (entry["generation"], time.monotonic() + lifetime(), entry)
    while len(_local) > LOCAL_ENTRIES:
        try:  # the oldest kept; another thread may have taken it meanwhile
            _local.popitem(last=False)
        except KeyError:
            break


def _copied(entry: dict) -> dict:
    """Fresh instances of an entry's rows (a request's code may set attributes on its user and token)."""
    return {**entry, "user": _bare(entry["user"]), "token": _bare(entry["token"])}


def resolve(token) -> tuple[object, object]:
    """Resolve a token row's user, roles and region ids (a few queries) and cache them; returns (user, token)."""
    from cartportal import access

    generation = GENERATION.current()
    user = token.user
    _forget(user)
    user.partner_token = token
    entry = {
        "generation": generation,
        "token": token,
        "user": user,
        "roles": set(access.role_names(user)),
        "region_ids": {action: access.region_ids_for(user, action) for action in ACTIONS},
    }
    # The token's regions were read into the user's cache above; the pickled rows carry no stale caches.
    kept = {**entry, "user": _bare(user), "token": _bare(token)}
    cache.set(_entry_key(token.key_hash), kept, lifetime())
    _keep(token.key_hash, kept)
    return _restore(entry)


def _bare(instance):
    """A copy of a model instance without per-request attributes (region caches, the bound token)."""
    names = [f.attname for f in instance._meta.concrete_fields]
    return type(instance).from_db(instance._state.db, names, [getattr(instance, name) for name in names])


def _restore(entry: dict) -> tuple[object, object]:
    user, token = entry["user"], entry["token"]
    token.user = user
    user.partner_token = token
    user._cp_roles = set(entry["roles"])
    user.__dict__["_cp_region_cache"] = {
        action: None if ids is None else list(ids) for action, ids in entry["region_ids"].items()
    }
    return user, token


def _forget(user) -> None:
    user.__dict__.pop("_cp_region_cache", None)
    user.__dict__.pop("_cp_roles", None)


def bump_generation(**kwargs) -> None:
    """Make every cached principal stale (now and once the surrounding transaction commits)."""
    GENERATION.bump()


def connect_signals() -> None:
    """Every change that alters what a token may do bumps the generation (called from AppConfig.ready)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db.models.signals import m2m_changed, post_delete, post_save
    from guardian.models import GroupObjectPermission, UserObjectPermission

    from cartportal.models import PartnerToken, Region

    user_model = get_user_model()
    uid = "cartportal.api.principals"
    for model in (PartnerToken, user_model, Group, Region, UserObjectPermission, GroupObjectPermission):
        post_save.connect(bump_generation, sender=model, dispatch_uid=f"{uid}.save.{model._meta.label}")
        post_delete.connect(bump_generation, sender=model, dispatch_uid=f"{uid}.delete.{model._meta.label}")
    for through in (PartnerToken.regions.through, user_model.groups.through, Group.permissions.through):
        m2m_changed.connect(bump_generation, sender=through, dispatch_uid=f"{uid}.m2m.{through._meta.label}")


_noted: dict[int, float] = {}


def note_use(token, now) -> None:
    """Record `last_used_at` at most about once a minute per token: this process asks the shared cache at most once a
    minute per token, and the cache key lets one process of all write the row."""
    moment = now.timestamp()
    if moment - _noted.get(token.pk, float("-inf")) < 60:
        return
    _noted[token.pk] = moment
    if cache.add(f"cp:token-used:{token.pk}", 1, timeout=60):
        type(token).objects.filter(pk=token.pk).update(last_used_at=now)
