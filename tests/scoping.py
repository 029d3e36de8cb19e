"""The shared scoping contract: every URL of the project is described here once, and
tests/test_scoping_every_url.py checks each description for every persona.

Each app keeps its descriptions in `tests/<app>/scoping.py` as a dict `SPECS = {url_name: UrlSpec(...)}`.
A URL without a description fails the meta-test, so a new page or endpoint cannot skip the checks.

Kinds:
- "public": no login needed (login page, health check).
- "list": a page or endpoint without an object id. `seed(world)` creates one row in region A and one in
  region B and returns their (own, foreign) markers, text that appears in the response when the row is shown.
- "object": a page or endpoint for one object. `make(world, region)` creates the object in that region
  and returns the URL kwargs; `missing` gives kwargs of an object that does not exist.
- "global": a page about no region (docs, schema): any logged-in user may read it.
`get_status` is what an allowed reader's GET answers (405 for POST-only endpoints).
`roles` limits who may read at all (e.g. {"Compliance"}); others get `denied_status`.
Writes: `post(world, region) -> (kwargs, data, snapshot)` posts `data`; `snapshot()` must be equal
before and after a foreign post (nothing changed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class UrlSpec:
    kind: str
    seed: Callable | None = None
    make: Callable | None = None
    missing: dict = field(default_factory=lambda: {"pk": 987654321})
    roles: set[str] | None = None
    denied_status: int = 404
    post: Callable | None = None
    query: str = ""
    api: bool | None = None  # default: URL starts with /api/
    get_status: int = 200  # 405 for an endpoint that only takes POST
    post_denied: tuple[int, ...] = (403, 404)  # what a foreign write may answer (400 when the region is refused)


def all_specs() -> dict[str, UrlSpec]:
    import importlib
    import pkgutil

    import tests

    specs: dict[str, UrlSpec] = {}
    for module in pkgutil.iter_modules(tests.__path__):
        if not module.ispkg:
            continue
        try:
            mod = importlib.import_module(f"tests.{module.name}.scoping")
        except ModuleNotFoundError:
            continue
        specs.update(mod.SPECS)
    return specs
