from tests.scoping import UrlSpec

SPECS = {
    "api-schema": UrlSpec("global"),
    "api-docs": UrlSpec("global", api=False),
}
