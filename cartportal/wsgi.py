import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from cartportal.capacity import shed_load

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartportal.settings")
application = shed_load(get_wsgi_application(), settings)


def warm_up() -> None:
    """Import the URLconf (and with it every view and the libraries they use) and run the domains' warm-ups while
    the process starts, so that the first request after a restart does not wait for them."""
    from django.template.loader import get_template
    from django.urls import reverse
    from django.utils.module_loading import import_string

    from cartportal import extensions

    reverse("portal:home")  # imports every URLconf and builds the reverse look-up tables
    get_template("base.html")  # sets up the template engine and imports every template tag library
    for dotted_path in extensions.WEB_PROCESS_WARMUPS:
        import_string(dotted_path)()


warm_up()
