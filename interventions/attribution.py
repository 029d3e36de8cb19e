"""Outcomes attributed from imported orders: for every assignment of a started campaign (treated and holdout
alike), converted = an order that was not cancelled or returned, placed after the assignment and within the
attribution window (CARTPORTAL_ATTRIBUTION_DAYS, default 7); revenue = those orders' total; visited = a session
in the window, or a conversion. Assignments whose outcome a partner reported (the outcomes API or file) are left
as reported. Both arms are attributed at the same moment, so an open window affects them alike; the figures
grow as orders arrive, and the lift follows."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from cartportal.audit import record
from interventions.models import Campaign

STARTED = (Campaign.State.RUNNING, Campaign.State.COMPLETED, Campaign.State.STOPPED)

_UPDATE = """
UPDATE interventions_assignment a
SET converted = m.orders > 0, revenue = m.revenue, visited = (m.orders > 0 OR m.sessions > 0),
    outcome_at = %(now)s, outcome_source = 'orders'
FROM (
    SELECT a2.id,
        (SELECT count(*) FROM cartportal_order o
         WHERE o.customer_id = a2.customer_id AND o.placed_at > a2.assigned_at
           AND o.placed_at <= a2.assigned_at + %(window)s AND o.status NOT IN ('cancelled', 'returned')) AS orders,
        (SELECT coalesce(sum(o.total), 0) FROM cartportal_order o
         WHERE o.customer_id = a2.customer_id AND o.placed_at > a2.assigned_at
           AND o.placed_at <= a2.assigned_at + %(window)s AND o.status NOT IN ('cancelled', 'returned')) AS revenue,
        (SELECT count(*) FROM cartportal_session s
         WHERE s.customer_id = a2.customer_id AND s.started_at > a2.assigned_at
           AND s.started_at <= a2.assigned_at + %(window)s) AS sessions
    FROM interventions_assignment a2 JOIN interventions_campaign c ON c.id = a2.campaign_id
    WHERE c.state = ANY(%(states)s) AND a2.outcome_source <> 'partner' {scope}
) m
WHERE a.id = m.id AND (a.outcome_at IS NULL OR a.converted IS DISTINCT FROM (m.orders > 0)
    OR a.revenue IS DISTINCT FROM m.revenue OR a.visited IS DISTINCT FROM (m.orders > 0 OR m.sessions > 0))
"""


def outcomes_attribute(*, actor, region_ids: list[int] | None = None, campaign_id: int | None = None) -> int:
    """Attribute orders to the assignments of started campaigns (of the regions given); returns rows changed."""
    params = {
        "now": timezone.now(),
        "window": dt.timedelta(days=settings.CARTPORTAL_ATTRIBUTION_DAYS),
        "states": list(STARTED),
    }
    scope = ""
    if region_ids is not None:
        scope += " AND c.region_id = ANY(%(regions)s)"
        params["regions"] = list(region_ids)
    if campaign_id is not None:
        scope += " AND c.id = %(campaign)s"
        params["campaign"] = campaign_id
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_UPDATE.format(scope=scope), params)
        changed = cursor.rowcount
        if changed:
            record(
                actor=actor,
                action="campaign.attribute",
                object_type="interventions.assignment",
                after={
                    "changed": changed,
                    "window_days": settings.CARTPORTAL_ATTRIBUTION_DAYS,
                    "campaign": campaign_id,
                },
            )
    return changed
