import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartportal.settings")
application = get_wsgi_application()


def _load_every_view() -> None:
    """Import the URLconf (and with it every view and the libraries they use) while the process starts, so that
    the first request after a restart does not wait for it."""
    from django.urls import reverse

    reverse("portal:home")  # imports every URLconf and builds the reverse look-up tables


_load_every_view()
