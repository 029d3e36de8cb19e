"""The portal's tabs. Each entry is (label, url name, who sees it); entries whose URL does not exist
yet are skipped, so a domain app adds its pages without touching the base template."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse

from cartportal.access import ADMIN, COMPLIANCE, EXECUTIVE, has_role

EVERYONE = "everyone"
TABS = [
    ("Overview", "portal:home", EVERYONE),
    ("Abandonment", "predictions:abandonment", EVERYONE),
    ("Segments", "segments:index", EVERYONE),
    ("Insights", "portal:insights", EVERYONE),
    ("CLV", "predictions:clv", EVERYONE),
    ("Executive", "portal:executive", (EXECUTIVE, ADMIN)),
    ("Campaigns", "interventions:campaigns", EVERYONE),
    ("Approvals", "interventions:approvals", EVERYONE),
    ("Promotions", "interventions:promotions", EVERYONE),
    ("Win back", "interventions:winback", EVERYONE),
    ("Simulator", "interventions:simulator", EVERYONE),
    ("Data", "ingest:imports", EVERYONE),
    ("Models", "predictions:models", EVERYONE),
    ("Readiness", "predictions:readiness", EVERYONE),
    ("Jobs", "portal:jobs", EVERYONE),
    ("Audit", "portal:audit", (COMPLIANCE,)),
    ("API", "api-docs", EVERYONE),
]


def tabs_for(user, current_path: str = "") -> list[dict]:
    items = []
    for label, name, audience in TABS:
        if audience != EVERYONE and not (user.is_superuser or has_role(user, *audience)):
            continue
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        active = current_path == url if url == "/" else current_path.startswith(url)
        items.append({"label": label, "url": url, "active": active})
    return items
