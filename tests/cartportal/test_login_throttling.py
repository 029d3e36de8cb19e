"""Login throttling through the login form: wrong passwords lock an account, and an address, out (the right
password is then refused too); the lockout is audited, and an administrator lifts it with a command (audited)."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from cartportal.models import AuditEvent
from tests.base import PASSWORD

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"


def _login(username: str, password: str, address: str = "10.0.0.1"):
    client = Client(REMOTE_ADDR=address)
    return client, client.post(LOGIN, {"username": username, "password": password})


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_wrong_passwords_lock_the_account_until_an_administrator_lifts_it(world, settings):
    settings.AXES_FAILURE_LIMIT = 5
    username = world.manager_a.username
    answers = [_login(username, "wrong", address=f"10.0.1.{i}")[1].status_code for i in range(6)]
    assert answers[:4] == [200] * 4  # the form again, with its error
    assert answers[4:] == [429, 429]

    client, right = _login(username, PASSWORD, address="10.0.2.1")  # a new address does not help
    assert right.status_code == 429 and not _logged_in(client)
    locked = AuditEvent.objects.filter(action="auth.locked_out", object_id=username)
    assert locked.exists()

    out = StringIO()
    call_command("lift_login_lockout", username=username, stdout=out)
    assert json.loads(out.getvalue().strip().splitlines()[-1])["attempts_removed"] >= 1
    lifted = AuditEvent.objects.get(action="auth.lockout_lifted")
    assert (lifted.actor, lifted.object_id) == ("command:lift_login_lockout", username)
    client, right = _login(username, PASSWORD, address="10.0.2.1")
    assert right.status_code == 302 and _logged_in(client)


def test_wrong_passwords_from_one_address_lock_that_address(world, settings):
    settings.AXES_FAILURE_LIMIT = 5
    for i in range(5):
        _login(f"nobody{i}", "wrong", address="10.0.3.3")

    client, same_address = _login(world.manager_b.username, PASSWORD, address="10.0.3.3")
    assert same_address.status_code == 429 and not _logged_in(client)
    client, elsewhere = _login(world.manager_b.username, PASSWORD, address="10.0.3.4")
    assert elsewhere.status_code == 302 and _logged_in(client)

    call_command("lift_login_lockout", ip="10.0.3.3", stdout=StringIO())
    client, again = _login(world.manager_b.username, PASSWORD, address="10.0.3.3")
    assert again.status_code == 302 and _logged_in(client)
