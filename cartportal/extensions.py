"""The platform's extension points: signals a lower layer sends and providers a higher layer fills.

Dependencies point down (core <- predictions <- segments <- interventions, the composition layer on top). When a
lower layer needs something only a higher one knows, it does not import it: it sends a signal here, or asks a
provider here that the higher app registers in its AppConfig.ready(). A provider nobody registered answers with
its default, which is the documented "not available" value, so a lower layer also works on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.dispatch import Signal

# Sent by predictions, after the commit, when every chunk of a scoring run is written and the run is published.
# Arguments: run_id (int), region_ids (list[int] | None = every region), kind (str, the model kind).
scoring_published = Signal()
# Sent by the ingestion, after an import's rows are committed. Arguments: kind (str, the import kind), job_id (int).
import_finished = Signal()
# Sent by the core when something happened that may be news for someone: an audit row of one of
# cartportal.audit.NEWS_ACTIONS (a campaign submitted for approval, an access denial, a drift report), a job that
# failed, an import that set rows aside. Arguments: what (str). The composition layer's e-mail notifications listen.
news = Signal()


class Provider:
    """One function a higher layer supplies; `__call__` runs it, or returns `default` when none is registered."""

    def __init__(self, name: str, default: Any = None):
        self.name = name
        self.default = default
        self._function: Callable | None = None

    def register(self, function: Callable) -> Callable:
        self._function = function
        return function

    @property
    def available(self) -> bool:
        return self._function is not None

    def __call__(self, *args, **kwargs):
        if self._function is None:
            return self.default
        return self._function(*args, **kwargs)


# (user, customer) -> the next-best action the interventions app proposes for one customer (a dict).
proposed_action = Provider("proposed action", default=None)
# (cart: {"top_driver", "customer_id", "low_rated_items"}) -> {"action", "name", "reason"}: the intervention the
# interventions app proposes for one open cart (predictions asks it for each cart it scores).
cart_action = Provider("intervention proposed for an open cart", default=None)
# (region_id, segment) -> the measured conversion lift (treated rate - holdout rate) of that audience segment in
# that region, falling back to the region's pooled measured lift; None while nothing is measured.
segment_lift = Provider("measured lift of an audience segment", default=None)

# (scope: cartportal.access.Scope) -> [(value, label)]: the customer segments the analysis filters offer, values
# written `kind:code` (`rfm:champions`, `value_group:high`); none while no segments app answers.
customer_segment_choices = Provider("customer segments offered as a filter", default=[])
# (value) -> (sql, params): a query of the customer ids in that segment (a value customer_segment_choices offered).
customer_segment_sql = Provider("customers of one segment", default=("SELECT NULL::bigint WHERE FALSE", []))


# File name -> loader(path, actor) -> counts dict (read, loaded, cancellations, quarantined, duplicates).
# `load_data` runs the platform's own loaders, then these (a domain's public data sets, e.g. an experiment).
DATASET_LOADERS: dict[str, Callable[[Path, Any], dict]] = {}


def register_dataset_loader(file_name: str, loader: Callable[[Path, Any], dict]) -> None:
    DATASET_LOADERS[file_name] = loader


# (order, dotted path of build(stdout)): what `seed_demo` runs after loading data, lowest order first (train and
# score, then segment, then draft campaigns). A dotted path, so that starting a process does not load the models.
DEMO_BUILDERS: list[tuple[int, str]] = []


def register_demo_builder(order: int, dotted_path: str) -> None:
    if all(existing != dotted_path for _, existing in DEMO_BUILDERS):
        DEMO_BUILDERS.append((order, dotted_path))
        DEMO_BUILDERS.sort(key=lambda item: item[0])


# Dotted paths of callables (no arguments) a web process runs when it starts, before its first request: work that
# would otherwise make the first user after a restart wait (e.g. loading or fitting a model the pages use).
WEB_PROCESS_WARMUPS: list[str] = []


def register_web_process_warmup(dotted_path: str) -> None:
    if dotted_path not in WEB_PROCESS_WARMUPS:
        WEB_PROCESS_WARMUPS.append(dotted_path)
