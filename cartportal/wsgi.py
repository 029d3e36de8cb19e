import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from cartportal.capacity import shed_load

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartportal.settings")
application = shed_load(get_wsgi_application(), settings)
