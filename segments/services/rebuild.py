"""Segment writes: the set-based rebuild of every customer's segments, snapshots and audience evaluation.

Each service runs in one transaction and writes its audit row inside it; a re-run replaces the rows of the
regions it covers, so a re-delivered task neither duplicates nor half-writes anything.
"""

from __future__ import annotations

import datetime as dt
import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from cartportal.access import Scope
from cartportal.audit import record
from cartportal.errors import AppError
from cartportal.models import Order, Region
from segments import rfm, snapshots
from segments.bulk import plan_for_bulk
from segments.value_groups import Thresholds, dormant_sql, thresholds_cte, value_group_case_sql

PROFILE_COLUMNS = (
    "customer_id, region_id, built_at, reference_at, last_purchase_at, recency_days, frequency, monetary, "
    "r_score, f_score, m_score, rfm_segment, value_group, dormant, promotion_base, persona"
)


class SegmentError(AppError):
    """A segment operation that cannot be done as asked (the message says why)."""


@dataclass
class RebuildResult:
    reference_at: dt.datetime | None
    customers: int = 0
    counts: dict = field(default_factory=dict)
    persona_runs: list = field(default_factory=list)
    snapshot_rows: dict = field(default_factory=dict)  # rows deleted, updated, inserted in this month's snapshot


def reference_moment() -> dt.datetime | None:
    """Recency is measured from the latest order in the shop (so a historical export is read as of its end)."""
    return Order.objects.order_by("-placed_at").values_list("placed_at", flat=True).first()


def _scope_cte() -> str:
    return """scope AS (
        SELECT id, region_id FROM cartportal_customer
        WHERE erased_at IS NULL AND (%(all_regions)s OR region_id = ANY(%(regions)s::int[]))
    )"""


def _params(region_ids, as_of, thresholds: Thresholds) -> dict:
    return {
        "all_regions": region_ids is None,
        "regions": list(region_ids or []),
        "as_of": as_of,
        **thresholds.params(),
    }


def _profiles_select() -> str:
    promotion = """CASE WHEN b.customer_id IS NOT NULL AND br.customer_id IS NOT NULL THEN 'both'
                        WHEN b.customer_id IS NOT NULL THEN 'transaction_only'
                        WHEN br.customer_id IS NOT NULL THEN 'browsing_only' ELSE 'none' END"""
    return f"""
    WITH {_scope_cte()}, {rfm.buyers_sql()}, {thresholds_cte()},
    browsing AS (
        SELECT customer_id FROM cartportal_session WHERE customer_id IS NOT NULL AND started_at <= %(as_of)s
        UNION SELECT customer_id FROM cartportal_cartevent WHERE customer_id IS NOT NULL AND occurred_at <= %(as_of)s
    )
    SELECT s.id AS customer_id, s.region_id, now() AS built_at, %(as_of)s::timestamptz AS reference_at,
        b.last_purchase AS last_purchase_at, b.recency_days, coalesce(b.frequency, 0) AS frequency,
        coalesce(b.monetary, 0) AS monetary, b.r_score, b.f_score, b.m_score,
        coalesce({rfm.rfm_case_sql("b.r_score", "b.f_score")}, '') AS rfm_segment,
        {value_group_case_sql()} AS value_group, {dormant_sql()} AS dormant, {promotion} AS promotion_base
    FROM scope s LEFT JOIN scored b ON b.customer_id = s.id LEFT JOIN thresholds t ON t.part = b.part
        LEFT JOIN browsing br ON br.customer_id = s.id"""


def _region_filter(scoped_ids, column: str = "region_id") -> tuple[str, list]:
    """The rebuild runs for the region ids its task was started with (already scoped)."""
    return Scope.from_ids(scoped_ids).sql(column)


def segments_rebuild(
    *,
    actor,
    region_ids=None,
    as_of: dt.datetime | None = None,
    progress=None,
    personas: bool = True,
    bootstraps: int = 10,
) -> RebuildResult:
    """Recompute every segment of the given regions (None = all) in one pass: each customer's RFM scores, value
    group, dormancy, promotion base and persona, the segment summaries and this month's snapshot.

    Personas are clustered per region (reads and CPU only; see segments.personas) while the profiles are
    computed into a temporary table, then both are written in one INSERT; with personas=False each customer
    keeps the persona of the previous build."""
    as_of = as_of or reference_moment()
    if as_of is None:
        return RebuildResult(None)
    thresholds = Thresholds.from_settings()
    params = _params(region_ids, as_of, thresholds)
    where, args = _region_filter(region_ids)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # Clustering reads on its own connection while this one computes the profiles; inside an outer
        # transaction (whose uncommitted rows another connection cannot see) it runs here, before them.
        apart = personas and not connection.in_atomic_block
        clustering = pool.submit(_cluster_regions_apart, region_ids, bootstraps) if apart else None
        clusterings = _cluster_regions(region_ids, bootstraps) if personas and not apart else []
        with transaction.atomic(), connection.cursor() as cursor:
            plan_for_bulk(cursor)
            cursor.execute("DROP TABLE IF EXISTS seg_profile")
            cursor.execute(f"CREATE TEMP TABLE seg_profile ON COMMIT DROP AS {_profiles_select()}", params)
            _report(progress, 40, "profiles computed")
            month = snapshots.month_start(as_of)
            # While the personas are still being clustered: what does not depend on them.
            _read_snapshot(cursor, region_ids, month)
            _delete_left_profiles(cursor, region_ids)
            counts = _refresh_summaries(
                cursor, region_ids, [k for k in SUMMARY_SOURCES if k != "persona"], "seg_profile"
            )
            if clustering is not None:
                clusterings = clustering.result()
            if personas:
                _stage_personas(cursor, clusterings)
            else:
                _stage_previous_personas(cursor, where, args)
            _report(progress, 50, f"personas of {len(clusterings)} regions staged")
            customers = _write_profiles(cursor)
            _report(progress, 70, "profiles written")
            runs = [_store_persona_run(actor, region, result) for region, result in clusterings]
            counts |= _refresh_summaries(cursor, region_ids, ["persona"])
            _report(progress, 85, "segment summaries written")
            written = _snapshot_from_profiles(cursor, region_ids, month)
            record(
                actor=actor,
                action="segments.rebuilt",
                object_type="segments",
                region_code=_region_code(region_ids),
                after={
                    "customers": customers,
                    "reference_at": as_of,
                    "thresholds": thresholds.params(),
                    "persona_runs": [run.pk for run in runs],
                },
            )
    return RebuildResult(as_of, customers, counts, runs, written)


def _delete_left_profiles(cursor, region_ids) -> None:
    """Delete the profiles of the rebuilt regions' customers who are no longer in scope (erased, moved away)."""
    where, args = _region_filter(region_ids, "c.region_id")
    cursor.execute(
        f"""DELETE FROM segments_customerprofile c WHERE {where}
        AND NOT EXISTS (SELECT 1 FROM seg_profile p WHERE p.customer_id = c.customer_id)""",
        args,
    )


def _write_profiles(cursor) -> int:
    """Make the profiles of the rebuilt regions those in seg_profile (with the personas of seg_persona): each
    customer's row is updated in place and new customers' rows inserted (rows of customers no longer in scope
    are deleted before, by _delete_left_profiles). Returns the customers written.

    In place, because a rebuild rewrites every row (the reference date moves) but seldom a segment column: the
    table leaves half of each page free (fillfactor), so the new version lands on the same page and the indexes,
    which hold only region and segment columns, are not written (a heap-only update); deleting and inserting
    every row wrote three index entries per customer. A customer who moved from a region not rebuilt now is
    updated where their row is."""
    columns = [c.strip() for c in PROFILE_COLUMNS.split(",")]
    incoming = """(SELECT p.*, coalesce(sp.persona, '') AS persona FROM seg_profile p
        LEFT JOIN seg_persona sp ON sp.customer_id = p.customer_id)"""
    targets, values = ", ".join(columns[1:]), ", ".join(f"n.{x}" for x in columns[1:])
    cursor.execute(
        f"""UPDATE segments_customerprofile c SET ({targets}) = ({values})
        FROM {incoming} n WHERE c.customer_id = n.customer_id"""
    )
    updated = cursor.rowcount
    cursor.execute(
        f"""INSERT INTO segments_customerprofile ({PROFILE_COLUMNS})
        SELECT {", ".join(f"n.{x}" for x in columns)} FROM {incoming} n
        WHERE NOT EXISTS (SELECT 1 FROM segments_customerprofile c WHERE c.customer_id = n.customer_id)"""
    )
    return updated + cursor.rowcount


def _report(progress, value: float, message: str) -> None:
    if progress is not None:
        progress(value, message)


def _region_code(region_ids) -> str:
    if region_ids is not None and len(region_ids) == 1:
        return Region.objects.filter(pk=region_ids[0]).values_list("code", flat=True).first() or ""
    return ""


SUMMARY_SOURCES = {
    "value_group": "value_group",
    "rfm": "rfm_segment",
    "promotion_base": "promotion_base",
    "persona": "persona",
}


def _refresh_summaries(cursor, region_ids, kinds=tuple(SUMMARY_SOURCES), source="segments_customerprofile") -> dict:
    """Rewrite the summary rows of `kinds` in the regions, counted from `source` (the profiles, or seg_profile
    while the personas are still being clustered)."""
    from segments.models import PromotionBase, ValueGroup

    where, args = _region_filter(region_ids)
    cursor.execute(f"DELETE FROM segments_segment WHERE {where} AND kind = ANY(%s)", [*args, list(kinds)])
    names = {**{g.value: g.label for g in ValueGroup}, **{p.value: p.label for p in PromotionBase}}
    counts: dict[str, int] = {}
    for kind in kinds:
        column = SUMMARY_SOURCES[kind]
        cursor.execute(
            f"""INSERT INTO segments_segment (region_id, kind, code, name, size, dormant_size, monetary_total, built_at)
            SELECT region_id, %s, {column}, {column}, count(*), count(*) FILTER (WHERE dormant), sum(monetary), now()
            FROM {source} WHERE {where} AND {column} <> '' GROUP BY region_id, {column}""",
            [kind, *args],
        )
        counts[kind] = cursor.rowcount
    for code, name in names.items():
        cursor.execute(f"UPDATE segments_segment SET name = %s WHERE code = %s AND {where}", [name, code, *args])
    return counts


SNAPSHOT_COLUMNS = tuple(snapshots.COLUMNS.values())


def _read_snapshot(cursor, region_ids, month: dt.date) -> None:
    """The month's snapshot rows of the regions as they stand (with their row addresses), into seg_old."""
    where, args = _region_filter(region_ids, "s.region_id")
    cursor.execute("DROP TABLE IF EXISTS seg_old")
    cursor.execute(
        f"""CREATE TEMP TABLE seg_old ON COMMIT DROP AS
        SELECT s.ctid AS tid, s.customer_id, s.region_id, {", ".join(f"s.{c}" for c in SNAPSHOT_COLUMNS)}
        FROM segments_profilesnapshot s WHERE s.month = %s AND {where}""",
        [month, *args],
    )


def _snapshot_from_profiles(cursor, region_ids, month: dt.date) -> dict:
    """This month's value group, RFM and persona snapshot from the profiles just computed in seg_profile and the
    personas staged in seg_persona (audience snapshots are written when evaluated); seg_old holds the current rows."""
    value_group = snapshots.state_sql("p.value_group", "p.dormant")
    states = f"""SELECT p.customer_id, p.region_id,
        CASE WHEN p.value_group = '' THEN '' ELSE {value_group} END AS value_group,
        p.rfm_segment AS rfm, coalesce(sp.persona, '') AS persona
    FROM seg_profile p LEFT JOIN seg_persona sp ON sp.customer_id = p.customer_id"""
    return _write_snapshot(cursor, region_ids, month, SNAPSHOT_COLUMNS, states, {})


def _write_snapshot(cursor, region_ids, month: dt.date, columns, states_sql: str, params) -> dict:
    """Make the month's snapshot rows read into seg_old hold the states `states_sql` selects (customer_id,
    region_id and the given columns; the other columns keep their value): rows that changed are updated, missing
    ones inserted, and rows left without any state deleted; unchanged rows are not written.

    A daily rebuild changes the state of few customers, so it writes a few thousand rows instead of deleting and
    re-inserting a row per customer with its index entries; the changes are applied at the rows' addresses.
    Returns the rows written per action."""
    for table in ("seg_state", "seg_change"):
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
    cursor.execute(f"CREATE TEMP TABLE seg_state ON COMMIT DROP AS {states_sql}", params)
    result = {c: (f"coalesce(n.{c}, '')" if c in columns else f"coalesce(o.{c}, '')") for c in SNAPSHOT_COLUMNS}
    empty = " AND ".join(f"{value} = ''" for value in result.values())
    differs = " OR ".join(f"o.{c} <> {value}" for c, value in result.items())
    cursor.execute(
        f"""CREATE TEMP TABLE seg_change ON COMMIT DROP AS
        SELECT o.tid, coalesce(n.customer_id, o.customer_id) AS customer_id,
            coalesce(n.region_id, o.region_id) AS region_id, {", ".join(f"{v} AS {c}" for c, v in result.items())},
            CASE WHEN {empty} THEN CASE WHEN o.tid IS NULL THEN 'none' ELSE 'delete' END
                 WHEN o.tid IS NULL THEN 'insert' ELSE 'update' END AS action
        FROM seg_old o FULL JOIN seg_state n ON n.customer_id = o.customer_id
        WHERE o.tid IS NULL OR n.customer_id IS NULL OR o.region_id <> n.region_id OR {differs}"""
    )
    cursor.execute("ANALYZE seg_change")
    assignments = ", ".join(f"{c} = c.{c}" for c in ("region_id", *SNAPSHOT_COLUMNS))
    # The changes are few against the month's rows: each is applied at its row address.
    cursor.execute("SET LOCAL enable_nestloop = on")
    written = {}
    cursor.execute(
        "DELETE FROM segments_profilesnapshot s USING seg_change c WHERE c.action = 'delete' AND s.ctid = c.tid"
    )
    written["deleted"] = cursor.rowcount
    cursor.execute(
        f"""UPDATE segments_profilesnapshot s SET {assignments} FROM seg_change c
        WHERE c.action = 'update' AND s.ctid = c.tid"""
    )
    written["updated"] = cursor.rowcount
    cursor.execute("SET LOCAL enable_nestloop = off")
    if region_ids is not None:
        # A customer whose row of the month is in a region not rebuilt here (moved since) is updated where it is.
        # (A hash join: the month's rows may be new since the table's statistics, and a nested loop over rows
        # the planner believes absent is quadratic.)
        rebuilt, rebuilt_args = _region_filter(region_ids, "s.region_id")
        cursor.execute(
            f"""UPDATE segments_profilesnapshot s SET {assignments} FROM seg_change c
            WHERE c.action = 'insert' AND s.month = %s AND NOT ({rebuilt}) AND s.customer_id = c.customer_id""",
            [month, *rebuilt_args],
        )
        written["updated"] += cursor.rowcount
    cursor.execute(
        f"""INSERT INTO segments_profilesnapshot (month, customer_id, region_id, {", ".join(SNAPSHOT_COLUMNS)})
        SELECT %s, c.customer_id, c.region_id, {", ".join(f"c.{c}" for c in SNAPSHOT_COLUMNS)} FROM seg_change c
        WHERE c.action = 'insert' AND NOT EXISTS (
            SELECT 1 FROM segments_profilesnapshot s WHERE s.month = %s AND s.customer_id = c.customer_id
        )""",
        [month, month],
    )
    written["inserted"] = cursor.rowcount
    for table in ("seg_state", "seg_old", "seg_change"):
        cursor.execute(f"DROP TABLE {table}")
    return written


def segments_snapshot_months(*, actor, months: int = 12, region_ids=None) -> list[dt.date]:
    """Backfill the snapshots of the `months` months up to the reference date, each measured at month end."""
    if not 1 <= months <= 60:
        raise SegmentError("Between 1 and 60 months can be snapshotted.")
    reference = reference_moment()
    if reference is None:
        return []
    thresholds = Thresholds.from_settings()
    done = []
    with transaction.atomic(), connection.cursor() as cursor:
        plan_for_bulk(cursor)
        for month in snapshots.previous_months(snapshots.month_start(reference), months):
            as_of = min(snapshots.month_end_moment(month), reference)
            params = _params(region_ids, as_of, thresholds)
            states = f"""SELECT p.id AS customer_id, p.region_id,
                {snapshots.state_sql("p.value_group", "p.dormant")} AS value_group FROM ({_snapshot_select()}) p"""
            _read_snapshot(cursor, region_ids, month)
            _write_snapshot(cursor, region_ids, month, ["value_group"], states, params)
            done.append(month)
        record(
            actor=actor,
            action="segments.snapshotted",
            object_type="segments",
            region_code=_region_code(region_ids),
            after={"months": [m.isoformat() for m in done]},
        )
    return done


def _snapshot_select() -> str:
    """The profile select narrowed to the columns a snapshot needs (customers with no order yet are skipped)."""
    return f"""
    WITH {_scope_cte()}, {rfm.buyers_sql()}, {thresholds_cte()}
    SELECT s.id, s.region_id, {value_group_case_sql()} AS value_group, {dormant_sql()} AS dormant
    FROM scope s JOIN scored b ON b.customer_id = s.id LEFT JOIN thresholds t ON t.part = b.part"""


def personas_rebuild(*, actor, region_ids=None, bootstraps: int = 10) -> list:
    """Re-cluster each region's purchasing customers only (the other segments stay as built): store the run and
    write each customer's persona."""
    runs = []
    for region, result in _cluster_regions(region_ids, bootstraps):
        with transaction.atomic(), connection.cursor() as cursor:
            plan_for_bulk(cursor)
            run = _store_persona_run(actor, region, result)
            _stage_personas(cursor, [(region, result)])
            cursor.execute(
                """UPDATE segments_customerprofile p
                SET persona = coalesce((SELECT t.persona FROM seg_persona t WHERE t.customer_id = p.customer_id), '')
                WHERE p.region_id = %s""",
                [region.pk],
            )
            _refresh_summaries(cursor, [region.pk])
        runs.append(run)
    return runs


def _cluster_regions_apart(region_ids, bootstraps: int) -> list[tuple[Region, dict]]:
    """_cluster_regions in a worker thread, which has (and then closes) its own database connection."""
    try:
        return _cluster_regions(region_ids, bootstraps)
    finally:
        connection.close()


def _cluster_regions(region_ids, bootstraps: int) -> list[tuple[Region, dict]]:
    """(region, clustering) for every region whose purchasing customers can be clustered."""
    from segments import personas

    regions = Region.objects.all() if region_ids is None else Region.objects.filter(pk__in=region_ids)
    min_ari = float(getattr(settings, "CARTPORTAL_PERSONA_MIN_ARI", 0.75))
    done = []
    for region in regions.order_by("pk"):
        frame = personas.load_features(region.pk)
        result = personas.cluster(frame, bootstraps=bootstraps, min_ari=min_ari) if len(frame) else None
        if result is not None and result.get("k") is not None:
            done.append((region, result))
    return done


def _store_persona_run(actor, region: Region, result: dict):
    from segments.models import PersonaRun

    run = PersonaRun.objects.create(
        region=region,
        built_at=timezone.now(),
        customers=result["customers"],
        features=result["features"],
        k=result["k"],
        selection=result["selection"],
        stability_ari=result["stability_ari"],
        stability_runs=result["stability_runs"],
        gmm_agreement_ari=result["gmm_agreement_ari"],
        unstable=result["unstable"],
        profiles=result["profiles"],
        note=f"Gaussian mixture chose k={result['k_bic']} by BIC",
    )
    record(
        actor=actor,
        action="segments.personas_built",
        object_type="persona run",
        object_id=run.pk,
        region_code=region.code,
        after={"k": run.k, "stability_ari": run.stability_ari},
    )
    return run


def _persona_table(cursor) -> None:
    cursor.execute("DROP TABLE IF EXISTS seg_persona")
    cursor.execute("CREATE TEMP TABLE seg_persona (customer_id bigint PRIMARY KEY, persona text) ON COMMIT DROP")


def _stage_personas(cursor, clusterings) -> None:
    """COPY each clustered customer's persona into a temporary table the profile statement joins."""
    _persona_table(cursor)
    with cursor.cursor.copy("COPY seg_persona (customer_id, persona) FROM STDIN (FORMAT csv)") as copy:
        for _region, result in clusterings:
            buffer = io.StringIO()
            result["labels"].to_csv(buffer, header=False)
            copy.write(buffer.getvalue())
    cursor.execute("ANALYZE seg_persona")


def _stage_previous_personas(cursor, where: str, args: list) -> None:
    _persona_table(cursor)
    cursor.execute(
        f"""INSERT INTO seg_persona SELECT customer_id, persona FROM segments_customerprofile
        WHERE {where} AND persona <> ''""",
        args,
    )
