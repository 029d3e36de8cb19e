"""Roles and the one scoping path.

Roles are groups. Permissions are granted on Region objects (django-guardian), never per row.
`region_ids_for(user, action)` turns a user into the list of region ids they may act on, or None for
"every region" (superusers, and Executive / Compliance for reads; Executives may also approve, which
the campaign service records as an override). A model-level permission alone grants nothing.
Partner API tokens narrow the user's regions to the token's regions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NoReturn

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models.functions import Cast
from django.http import Http404
from guardian.models import GroupObjectPermission, UserObjectPermission
from guardian.shortcuts import assign_perm, remove_perm

from cartportal.errors import Forbidden
from cartportal.models import Region

ANALYST = "Analyst"
REGIONAL_MANAGER = "RegionalManager"
EXECUTIVE = "Executive"
COMPLIANCE = "Compliance"
PARTNER = "Partner"
ADMIN = "Admin"
ROLES = [ANALYST, REGIONAL_MANAGER, EXECUTIVE, COMPLIANCE, PARTNER, ADMIN]
GLOBAL_READ_ROLES = {EXECUTIVE, COMPLIANCE}

ACTION_PERMS = {
    "view": "view_region_data",
    "change": "change_region_data",
    "import": "import_region_data",
    "approve": "approve_region_campaigns",
}
# What each role is granted on the regions it is assigned to.
ROLE_ACTIONS = {
    ANALYST: ["view", "change"],
    REGIONAL_MANAGER: ["view", "change", "import", "approve"],
    PARTNER: ["view", "change", "import"],
    EXECUTIVE: [],
    COMPLIANCE: [],
    ADMIN: [],
}


# Capabilities over global state (not one region's data) and the roles that hold them. Superusers and system actors
# (tasks and commands, started by the operator or the beat schedule) hold every capability.
MANAGE_MODELS = "manage_models"  # activate, roll back, retrain, rescore, prune scores, drift reports
KILL_SWITCH = "kill_switch"  # engage or release the global kill switch of campaigns
CAPABILITIES: dict[str, tuple[str, ...]] = {
    MANAGE_MODELS: (ANALYST, ADMIN),
    KILL_SWITCH: (EXECUTIVE, ADMIN),
}
CAPABILITY_REFUSALS = {
    MANAGE_MODELS: "Only analysts and administrators manage models.",
    KILL_SWITCH: "Only an executive or an administrator may change the kill switch.",
}


class SystemActor:
    """The actor of a Celery task or management command: recorded as its label (`task:rescore`,
    `command:erase_customer`) and limited to the region ids it was started for (None = all)."""

    is_authenticated = True
    is_active = True
    is_superuser = False
    is_staff = False
    pk = None

    def __init__(self, label: str, region_ids: list[int] | None = None):
        self.label = label
        self.region_ids = None if region_ids is None else list(region_ids)

    def __str__(self) -> str:
        return self.label


class NotFoundOrForbidden(Http404):
    """Raised for a foreign-region object exactly as for a missing one."""


def role_names(user) -> set[str]:
    if not getattr(user, "is_authenticated", False) or isinstance(user, SystemActor):
        return set()
    cached = getattr(user, "_cp_roles", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user._cp_roles = cached
    return cached


def has_role(user, *roles: str) -> bool:
    return bool(role_names(user) & set(roles))


def region_ids_for(user, action: str = "view") -> list[int] | None:
    """Region ids `user` may perform `action` on; None means every region."""
    if action not in ACTION_PERMS:
        raise ValueError(f"unknown action {action!r}")
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    if isinstance(user, SystemActor):
        return user.region_ids
    cache = user.__dict__.setdefault("_cp_region_cache", {})
    if action in cache:
        return cache[action]
    ids = _region_ids_uncached(user, action)
    token = getattr(user, "partner_token", None)
    if token is not None:
        token_ids = list(token.regions.values_list("id", flat=True))
        ids = token_ids if ids is None else [i for i in ids if i in set(token_ids)]
    cache[action] = ids
    return ids


def _region_ids_uncached(user, action: str) -> list[int] | None:
    if user.is_superuser:
        return None
    roles = role_names(user)
    if action == "view" and roles & GLOBAL_READ_ROLES:
        return None
    if action == "approve" and EXECUTIVE in roles:
        return None
    return list(_granted(user, action).values_list("id", flat=True))


def _granted(user, action: str) -> models.QuerySet[Region]:
    """The regions on which `user` (or one of its groups) holds the grant itself; roles that read everything and
    superusers do not count here. Compared on integer ids: the grant rows' text `object_pk` is cast once per grant
    row, so the region's primary key index serves the match (guardian's own query casts every region id to text)."""
    perm = Permission.objects.filter(content_type=_region_type(), codename=ACTION_PERMS[action])
    grant = {"permission__in": perm, "content_type": _region_type()}
    as_id = Cast("object_pk", models.BigIntegerField())
    own = UserObjectPermission.objects.filter(user_id=user.pk, **grant).annotate(rid=as_id).values("rid")
    via_groups = GroupObjectPermission.objects.filter(group__user=user.pk, **grant).annotate(rid=as_id).values("rid")
    return Region.objects.filter(models.Q(pk__in=own) | models.Q(pk__in=via_groups))


def _region_type() -> ContentType:
    return ContentType.objects.get_for_model(Region)  # cached by Django after the first call


def holds_grant(user, action: str, region_id: int) -> bool:
    """Whether the user holds the `action` grant on that region itself (an executive's approve-everywhere does not
    count: the campaign service records such a decision as an override)."""
    if is_system(user) or not getattr(user, "is_authenticated", False):
        return False
    return _granted(user, action).filter(pk=region_id).exists()


@dataclass(frozen=True)
class Scope:
    """The regions a reader may act on, built once from the user or token (`Scope.of`); `ids` None = every region.

    Every selector starts from one: `filter(queryset)` for the ORM, `sql(column)` for raw SQL. A function that
    takes ids which are already scoped names them `scoped_ids` (they came from a Scope, never from a request).
    """

    ids: tuple[int, ...] | None

    @classmethod
    def of(cls, user, action: str = "view", wanted: Iterable[int] | None = None) -> Scope:
        """The user's scope for `action`, narrowed to `wanted` region ids when given."""
        return cls.from_ids(region_ids_for(user, action)).narrow(wanted)

    @classmethod
    def from_ids(cls, scoped_ids: Iterable[int] | None) -> Scope:
        """A scope from ids that already went through a user's scope (a task's region ids, a cache key)."""
        return cls(None if scoped_ids is None else tuple(scoped_ids))

    @property
    def region_ids(self) -> list[int] | None:
        return None if self.ids is None else list(self.ids)

    @property
    def is_global(self) -> bool:
        return self.ids is None

    def narrow(self, wanted: Iterable[int] | None) -> Scope:
        if wanted is None:
            return self
        wanted = list(wanted)
        if self.ids is None:
            return Scope(tuple(wanted))
        allowed = set(self.ids)
        return Scope(tuple(i for i in wanted if i in allowed))

    def allows(self, region_id: int | None) -> bool:
        return self.ids is None or (region_id is not None and region_id in self.ids)

    def q(self, path: str = "region") -> models.Q:
        """A queryset condition on the lookup `path` that leads to the Region."""
        return models.Q() if self.ids is None else models.Q(**{f"{path}__in": list(self.ids)})

    def filter(self, queryset: models.QuerySet, path: str | None = None) -> models.QuerySet:
        path = path or getattr(queryset, "region_path", "region")
        return queryset if self.ids is None else queryset.filter(self.q(path))

    def sql(self, column: str = "region_id") -> tuple[str, list]:
        """A WHERE fragment and its parameters: TRUE for every region, `column = ANY(%s)` otherwise."""
        if self.ids is None:
            return "TRUE", []
        return f"{column} = ANY(%s)", [list(self.ids)]


def scoped_region_ids(user, wanted: list[int] | None = None) -> list[int] | None:
    """The region ids to read: the user's view scope, narrowed to `wanted` when given (None = every region)."""
    return Scope.of(user, "view", wanted).region_ids


def region_sql(scoped_ids: list[int] | None, column: str = "region_id") -> tuple[str, list]:
    """The SQL fragment of ids that already went through a user's scope (see `Scope.sql`)."""
    return Scope.from_ids(scoped_ids).sql(column)


def visible_regions(user, action: str = "view") -> models.QuerySet[Region]:
    ids = region_ids_for(user, action)
    return Region.objects.all() if ids is None else Region.objects.filter(id__in=ids)


def can(user, action: str, region_id: int | None) -> bool:
    return Scope.of(user, action).allows(region_id)


def is_system(actor) -> bool:
    """A task or command (a SystemActor, or the label a task records itself under)."""
    return isinstance(actor, SystemActor | str)


def has_capability(user, capability: str) -> bool:
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}")
    if is_system(user):
        return True
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return user.is_superuser or has_role(user, *CAPABILITIES[capability])


def authorize(
    actor,
    capability: str | None = None,
    *,
    action: str | None = None,
    region_id: int | None = None,
    what: str = "object",
) -> None:
    """The one authorization policy, called at the top of every service: the capability over global state (refused
    with `Forbidden`, a 403) and/or the action in the object's region (refused exactly like a missing object, a 404).
    Every refusal is audited."""
    if capability is not None and not has_capability(actor, capability):
        record_denied(actor, action=capability, what=what, region_id=region_id)
        raise Forbidden(CAPABILITY_REFUSALS[capability])
    if action is not None:
        ensure_can(actor, action, region_id, what=what)


def ensure_can(user, action: str, region_id: int | None, *, what: str = "object") -> None:
    """Raise NotFoundOrForbidden (and audit the denial) unless `user` may `action` in that region."""
    if not can(user, action, region_id):
        refuse_as_missing(user, action=action, what=what, region_id=region_id)


def get_scoped_or_404(queryset: models.QuerySet, user, action: str = "view", **lookup):
    """Fetch one object through the user's scope. A foreign-region object answers like a missing one,
    and the attempt is written to the audit trail."""
    try:
        return queryset.restrict(user, action).get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        pass
    what = queryset.model._meta.verbose_name
    try:
        # values_list, not only("pk"): a queryset with select_related cannot defer the related field.
        existing = queryset.filter(**lookup).values_list("pk", region_id_path(queryset)).first()
    except (ValueError, TypeError):
        existing = None
    if existing is None:
        refuse_as_missing(user, action=action, what=what, object_id=None)
    refuse_as_missing(user, action=action, what=what, object_id=str(existing[0]), region_id=existing[1])


def refuse_as_missing(
    user,
    *,
    action: str,
    what: str,
    object_id: str | None = "",
    region_id: int | None = None,
    region_code: str = "",
) -> NoReturn:
    """The one "404 plus audited denial": audit the attempt, with the object's region when known (unless
    `object_id` is None: nothing by that id exists), and answer exactly as for a missing object."""
    if object_id is not None:
        record_denied(user, action=action, what=what, object_id=object_id, region_id=region_id, region_code=region_code)
    raise NotFoundOrForbidden(f"No {what} matches the given query.")


def region_id_path(queryset: models.QuerySet) -> str:
    """The lookup from the queryset's model to its region id (`region_id`, or `customer__region_id`)."""
    return f"{getattr(queryset, 'region_path', 'region')}_id"


def record_denied(
    user,
    *,
    action: str,
    what: str,
    object_id: str = "",
    region_id: int | None = None,
    region_code: str = "",
) -> None:
    """Audit a refused attempt, with the region of the object when it is known (so that a reader scoped to that
    region sees the attempts on its data)."""
    from cartportal.audit import actor_label, record

    if region_id is not None and not region_code:
        region_code = Region.objects.filter(pk=region_id).values_list("code", flat=True).first() or ""
    record(
        actor=actor_label(user),
        action="access.denied",
        object_type=what,
        object_id=object_id,
        region_code=region_code,
        after={"attempted": action},
    )


def ensure_role_groups() -> dict[str, Group]:
    return {name: Group.objects.get_or_create(name=name)[0] for name in ROLES}


def grant_region(user_or_group, region: Region, role: str = REGIONAL_MANAGER) -> None:
    for action in ROLE_ACTIONS[role]:
        assign_perm(f"cartportal.{ACTION_PERMS[action]}", user_or_group, region)
    _forget(user_or_group)


def revoke_region(user_or_group, region: Region) -> None:
    for perm in ACTION_PERMS.values():
        remove_perm(f"cartportal.{perm}", user_or_group, region)
    _forget(user_or_group)


def _forget(user_or_group) -> None:
    user_or_group.__dict__.pop("_cp_region_cache", None)
    user_or_group.__dict__.pop("_cp_roles", None)
