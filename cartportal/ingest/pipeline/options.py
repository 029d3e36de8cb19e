"""What an import was asked to do, and the counts it keeps."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ImportOptions:
    kind: str
    mapping: dict[str, str] = field(default_factory=dict)
    region: str | None = None
    region_prefix: str = ""
    date_format: str | None = None
    delimiter: str | None = None
    encoding: str | None = None
    guess_columns: bool = True
    filename: str = ""
    currency: str = ""  # ISO 4217 code of the shop's amounts; regions this import creates carry it
    row_errors: dict = field(default_factory=dict)  # line -> (code, message), found before parsing (API batches)

    def __post_init__(self) -> None:
        self.currency = (self.currency or "").strip().upper()


class Counts(dict):
    def __init__(self):
        super().__init__(read=0, loaded=0, cancellations=0, quarantined=0, duplicates=0, erased_skipped=0)
        self.by_code: dict[str, int] = {}

    def add_problem(self, code: str, n: int = 1) -> None:
        self.by_code[code] = self.by_code.get(code, 0) + n

    def snapshot(self) -> tuple[dict, dict]:
        return dict(self), dict(self.by_code)

    def restore(self, snapshot: tuple[dict, dict]) -> None:
        """Back to a snapshot: the counts of a chunk whose transaction rolled back."""
        self.update(snapshot[0])
        self.by_code = dict(snapshot[1])
