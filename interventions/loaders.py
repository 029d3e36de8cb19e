"""Loading a past randomised campaign (Hillstrom's MineThatData e-mail test, or a file shaped like it).

Region: every row goes to one region, code `HILLSTROM` by default (the file has no geography beyond the
zip-code type, which describes the neighbourhood, not a sales region). Each row becomes a customer
`hillstrom-<row number>`; a completed campaign gets one arm per `segment` value, the control arm
("No E-Mail") marked as the holdout, the row's visit / conversion / spend as the outcome, and its pre-treatment
columns (recency, history, channel, ...) as the features recorded at assignment.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from django.db import transaction
from django.utils import timezone

from cartportal.audit import record
from cartportal.models import Customer, Region
from cartportal.services import DomainError
from interventions.models import Assignment, Campaign
from interventions.uplift.data import KNOWN_OUTCOME_COLUMNS

HILLSTROM_FILE = "hillstrom.csv"  # the file name `load_data` looks for

REQUIRED = {"segment", "visit", "conversion", "spend"}
CONTROL_ARM = "No E-Mail"


def read_hillstrom(path: str | Path) -> pd.DataFrame:
    try:
        df = pd.read_csv(path)
    except (FileNotFoundError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DomainError(f"cannot read {path}: {exc}") from exc
    df.columns = [str(c).strip().lower() for c in df.columns]
    missing = REQUIRED - set(df.columns)
    if missing:
        raise DomainError(f"missing columns: {', '.join(sorted(missing))}")
    df["segment"] = df["segment"].astype(str).str.strip()
    for col in ("visit", "conversion"):
        df[col] = pd.to_numeric(df[col], errors="coerce").fillna(0).astype(int).clip(0, 1)
    df["spend"] = pd.to_numeric(df["spend"], errors="coerce").fillna(0.0)
    return df


def load_hillstrom(
    path: str | Path,
    *,
    actor,
    region_code: str = "HILLSTROM",
    control: str = CONTROL_ARM,
    limit: int | None = None,
    customer_prefix: str = "hillstrom",
) -> Campaign:
    """Customers + a completed campaign with its arms and outcomes. Idempotent per file: re-loading reuses the
    customers and the campaign of that file in that region, and adds only assignments it does not have yet.
    `customer_prefix` keeps the customers of two files apart (e.g. two halves of one experiment)."""
    df = read_hillstrom(path)
    if limit:
        df = df.iloc[:limit]
    if control not in set(df["segment"]):
        raise DomainError(f"no control rows ({control!r}) in the file")
    started = timezone.now()
    with transaction.atomic():
        region, _ = Region.objects.get_or_create(
            code=region_code, defaults={"name": "Hillstrom e-mail test", "currency": "USD"}
        )
        ext_ids = [f"{customer_prefix}-{i}" for i in range(len(df))]
        Customer.objects.bulk_create(
            [
                Customer(external_id=e, region=region, acquisition_source=str(ch), first_seen=started)
                for e, ch in zip(ext_ids, df.get("channel", pd.Series([""] * len(df))), strict=True)
            ],
            batch_size=5000,
            ignore_conflicts=True,
        )
        ids = dict(Customer.objects.filter(external_id__in=ext_ids).values_list("external_id", "pk"))
        campaign, created = Campaign.objects.get_or_create(
            region=region,
            name=f"Hillstrom e-mail test ({Path(path).name})",
            created_by="import",
            defaults={
                "intervention": "reminder",
                "audience": "all customers in the file",
                "holdout_share": float((df["segment"] == control).mean()),
                "state": Campaign.State.COMPLETED,
            },
        )
        covariates = df.drop(columns=[c for c in df.columns if c in REQUIRED or c in KNOWN_OUTCOME_COLUMNS])
        rows = [
            Assignment(
                campaign=campaign,
                customer_id=ids[e],
                arm=seg,
                holdout=(seg == control),
                assigned_at=started,
                visited=bool(v),
                converted=bool(c),
                revenue=round(float(s), 2),
                outcome_at=started,
                features=features,
            )
            for e, seg, v, c, s, features in zip(
                ext_ids,
                df["segment"],
                df["visit"],
                df["conversion"],
                df["spend"],
                covariates.to_dict("records"),
                strict=True,
            )
        ]
        before = Assignment.objects.filter(campaign=campaign).count()
        Assignment.objects.bulk_create(rows, batch_size=5000, ignore_conflicts=True)
        added = Assignment.objects.filter(campaign=campaign).count() - before
        record(
            actor=actor,
            action="campaign.import",
            object_type="interventions.campaign",
            object_id=campaign.pk,
            region_code=region.code,
            after={"rows": len(rows), "added": added, "arms": sorted(set(df["segment"])), "state": campaign.state},
            reason=f"past randomised campaign {'loaded' if created else 're-loaded'} from {Path(path).name}",
        )
        return campaign


def load_hillstrom_counts(path: Path, actor) -> dict:
    """`load_data`'s loader for the Hillstrom file: the campaign's assignments are the loaded rows."""
    campaign = load_hillstrom(path, actor=actor)
    read = sum(1 for line in Path(path).read_bytes().splitlines()[1:] if line.strip())
    loaded = campaign.assignments.count()
    return {"read": read, "loaded": loaded, "cancellations": 0, "quarantined": 0, "duplicates": read - loaded}
