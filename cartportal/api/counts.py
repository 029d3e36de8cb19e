"""The total of a customer list, kept between requests.

A page of the customer list shows 50 rows and the number of customers matching its filters. Counting them is the
one part of the request that grows with the shop: a region of 20,000 customers takes a few milliseconds, one of a
million tens of milliseconds on every page a partner fetches. So the total is kept in the shared cache under the
list's query (the caller's region ids and the request's filters), stamped with a generation that every
change to the customers makes stale: a customer saved or deleted through the ORM (consent, erasure, the admin) and
an import that finished. Rows changed behind the ORM's back while an import is still running are seen when it ends
or, at the latest, after `API_COUNT_CACHE_SECONDS` (30 s). The rows of a page are always read fresh.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import EmptyPage, Paginator
from django.utils.functional import cached_property

from cartportal.cache import Generation

GENERATION_KEY = "cp:customer-count-generation"
GENERATION = Generation(GENERATION_KEY)
ENTRY_PREFIX = "cp:customer-count:"


def lifetime() -> int:
    return int(getattr(settings, "API_COUNT_CACHE_SECONDS", 30))


def count(queryset, *, identity: str, fresh: bool = False) -> int:
    """`queryset.count()`, from the cache when the customers have not changed since it was counted (`fresh`: count
    now and keep that). `identity` names what the queryset selects (the caller's scope and filters)."""
    if lifetime() <= 0:
        return queryset.count()
    key = ENTRY_PREFIX + hashlib.sha1(f"{queryset.db}\n{identity}".encode()).hexdigest()
    generation, entry = GENERATION.read(key)
    if not fresh and generation is not None and isinstance(entry, (list, tuple)) and entry[0] == generation:
        return entry[1]
    if generation is None:
        generation = GENERATION.current()
    total = queryset.count()
    cache.set(key, (generation, total), lifetime())
    return total


def customers_changed(**kwargs) -> None:
    """Make every kept total stale (now and once the surrounding transaction commits)."""
    GENERATION.bump()


def connect_signals() -> None:
    """Called from AppConfig.ready()."""
    from django.db.models.signals import post_delete, post_save

    from cartportal import extensions
    from cartportal.models import Customer

    uid = "cartportal.api.counts"
    post_save.connect(customers_changed, sender=Customer, dispatch_uid=f"{uid}.save")
    post_delete.connect(customers_changed, sender=Customer, dispatch_uid=f"{uid}.delete")
    extensions.import_finished.connect(customers_changed, dispatch_uid=f"{uid}.import")


class CachedCountPaginator(Paginator):
    """Django's paginator with the total from `count` above (a view that names no `count_identity` is counted on
    every request). A page's rows are read by offset alone, never cut at the kept total; a page number past the kept
    total is checked against a fresh count before it is refused."""

    def __init__(self, *args, identity: str | None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.identity = identity

    @cached_property
    def count(self) -> int:
        if self.identity is None:
            return self.object_list.count()
        return count(self.object_list, identity=self.identity)

    def validate_number(self, number):
        try:
            return super().validate_number(number)
        except EmptyPage:
            if self.identity is None or getattr(self, "_counted_now", False):
                raise
            self._counted_now = True
            self.__dict__["count"] = count(self.object_list, fresh=True, identity=self.identity)
            self.__dict__.pop("num_pages", None)
            return super().validate_number(number)

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        return self._get_page(self.object_list[bottom : bottom + self.per_page], number, self)
