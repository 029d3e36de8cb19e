"""The demo's logins: every role can sign in with the printed password and every tab it is shown answers."""

import pytest
from django.core.management import call_command

from cartportal.demo import DEMO_PASSWORD
from cartportal.portal.nav import tabs_for

DEMO_USERS = ["admin", "executive", "compliance", "analyst", "partner"]


@pytest.mark.django_db
def test_every_demo_login_sees_its_tabs(client):
    from io import StringIO

    out = StringIO()
    call_command("seed_demo", "--skip-data", stdout=out)
    printed = out.getvalue()
    assert DEMO_PASSWORD in printed
    assert "Partner API token (shown once):" in printed

    from django.contrib.auth import get_user_model

    managers = list(get_user_model().objects.filter(username__startswith="manager_").values_list("username", flat=True))
    assert len(managers) == 2
    for username in DEMO_USERS + managers:
        assert username in printed
        client.logout()
        # through the login form: the throttling backend needs the request
        login = client.post("/accounts/login/", {"username": username, "password": DEMO_PASSWORD})
        assert login.status_code == 302, username
        user = get_user_model().objects.get(username=username)
        tabs = tabs_for(user)
        assert tabs, username
        for tab in tabs:
            response = client.get(tab["url"])
            assert response.status_code == 200, (username, tab["url"], response.status_code)


@pytest.mark.django_db
def test_seed_demo_is_repeatable():
    from io import StringIO

    from django.contrib.auth import get_user_model

    call_command("seed_demo", "--skip-data", stdout=StringIO())
    count = get_user_model().objects.count()
    call_command("seed_demo", "--skip-data", stdout=StringIO())
    assert get_user_model().objects.count() == count
