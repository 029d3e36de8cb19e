"""Anchors: the chain's head published outside the database, so that a rewrite or a cut tail shows.

Whoever holds the database owner role can switch the append-only trigger off, rewrite a row and recompute
every later hash with the key, or delete the newest rows: the chain still verifies. A beat job therefore
appends the head (id, hash, time) to a file outside the database (`CARTPORTAL_AUDIT_ANCHOR_FILE`, one JSON
object a line, opened append-only); `verify_audit` then requires every anchored row to be in the chain with
the hash it had when it was published. Put the file where the database's administrators cannot write (another
host's mount, a write-once bucket synchronised from it).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from cartportal.models import AuditEvent


@dataclass
class AnchorCheck:
    checked: int
    broken_at: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return not self.reason


def anchor_path() -> Path | None:
    configured = getattr(settings, "CARTPORTAL_AUDIT_ANCHOR_FILE", "")
    return Path(configured) if configured else None


def read_anchors(path: Path) -> list[dict]:
    """The anchors in the file, oldest first; a line that is not an anchor raises ValueError naming it."""
    anchors = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                anchor = json.loads(line)
                anchors.append({"id": int(anchor["id"]), "hash": str(anchor["hash"]), "at": anchor["anchored_at"]})
            except (ValueError, KeyError, TypeError):
                raise ValueError(f"anchor file line {number} is not an anchor") from None
    return anchors


def publish_anchor() -> dict | None:
    """Append the head of the chain to the anchor file (nothing when it is unchanged since the last anchor)."""
    path = anchor_path()
    head = AuditEvent.objects.order_by("-id").values("id", "hash", "occurred_at").first()
    if path is None or head is None:
        return None
    previous = read_anchors(path)[-1:] if path.exists() else []
    if previous and (previous[0]["id"], previous[0]["hash"]) == (head["id"], head["hash"]):
        return None
    anchor = {
        "id": head["id"],
        "hash": head["hash"],
        "occurred_at": head["occurred_at"].astimezone(dt.UTC).isoformat(),
        "anchored_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(descriptor, (json.dumps(anchor, sort_keys=True) + "\n").encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return anchor


def check_anchors() -> AnchorCheck:
    """Every published anchor must name a row that is still in the chain with the same hash."""
    path = anchor_path()
    if path is None or not path.exists():
        return AnchorCheck(0)
    try:
        anchors = read_anchors(path)
    except ValueError as error:
        return AnchorCheck(0, None, str(error))
    head = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    stored = dict(AuditEvent.objects.filter(id__in={a["id"] for a in anchors}).values_list("id", "hash"))
    for checked, anchor in enumerate(anchors, start=1):
        if anchor["id"] > head:
            reason = f"row {anchor['id']} was anchored at {anchor['at']} but the chain ends at row {head} (tail cut)"
            return AnchorCheck(checked, anchor["id"], reason)
        if stored.get(anchor["id"]) != anchor["hash"]:
            reason = f"its hash is not the one anchored at {anchor['at']} (history rewritten up to here)"
            return AnchorCheck(checked, anchor["id"], reason)
    return AnchorCheck(len(anchors))
