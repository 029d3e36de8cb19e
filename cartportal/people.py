"""How people are named on pages, in the audit viewer and in CSV exports.

Audit rows keep pseudonymous actors (`user:7`); they are resolved to a username (and full name where set) only
when shown, so that the trail itself holds no personal data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.contrib.auth import get_user_model

_USER_ACTOR = re.compile(r"^user:(\d+)(/token:\d+)?$")


def person_label(user) -> str:
    """ "manager_de (Maria Schmidt)", or the username alone when no name is set."""
    if user is None:
        return "system"
    full = user.get_full_name().strip() if hasattr(user, "get_full_name") else ""
    return f"{user.username} ({full})" if full else user.username


def actor_user_ids(actors: Iterable[str]) -> set[int]:
    return {int(m.group(1)) for a in actors if (m := _USER_ACTOR.match(a or ""))}


def actor_names(actors: Iterable[str]) -> dict[str, str]:
    """Display label for each distinct actor string; task:/command: actors and unknown users stay as they are."""
    actors = set(actors)
    users = get_user_model().objects.in_bulk(actor_user_ids(actors))
    names = {}
    for actor in actors:
        m = _USER_ACTOR.match(actor or "")
        user = users.get(int(m.group(1))) if m else None
        names[actor] = person_label(user) + (f" via {m.group(2)[1:]}" if m and m.group(2) else "") if user else actor
    return names


def actor_for_username(text: str) -> str | None:
    """`user:<id>` of the user called `text` (case-insensitive), or None when nobody is."""
    user = get_user_model().objects.filter(username__iexact=text.strip()).only("pk").first()
    return f"user:{user.pk}" if user else None
