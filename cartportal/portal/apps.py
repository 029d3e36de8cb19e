from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The composition layer: pages and API reads that combine several domains. Installed after the domains."""

    name = "cartportal.portal"
    label = "portal"
    verbose_name = "cartportal portal (composition)"

    def ready(self) -> None:
        from cartportal import extensions
        from cartportal.portal.notify import on_news

        # Importing the selectors registers their rollups with the core's cache (a worker needs them too).
        from cartportal.portal.selectors import executive, insights  # noqa: F401

        # The core announces events that are news for someone; e-mail notifications go out soon after one.
        extensions.news.connect(on_news, dispatch_uid="portal.notify_soon")
