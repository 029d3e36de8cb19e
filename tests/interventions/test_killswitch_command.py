"""The kill switch from the command line: per region or global, audited with the reason, stopping the running
campaigns it covers; a missing reason or an unknown region is a clear error."""

import pytest
from django.core.management import CommandError, call_command

from cartportal.models import AuditEvent
from interventions.killswitch import kill_switch_engaged
from interventions.models import Campaign

pytestmark = pytest.mark.django_db


def test_engage_a_region_then_release(world, capsys):
    north = Campaign.objects.create(region=world.region_a, name="n", intervention="reminder", state="running")
    south = Campaign.objects.create(region=world.region_b, name="s", intervention="reminder", state="running")
    call_command("kill_switch", "engage", "--region", world.region_a.code, "--reason", "complaint spike")
    assert kill_switch_engaged(world.region_a.pk) and not kill_switch_engaged(world.region_b.pk)
    assert Campaign.objects.get(pk=north.pk).state == "stopped" and Campaign.objects.get(pk=south.pk).state == "running"
    row = AuditEvent.objects.get(action="interventions.kill_switch")
    assert row.reason == "complaint spike" and row.region_code == world.region_a.code
    call_command("kill_switch", "release", "--region", world.region_a.code, "--reason", "resolved")
    assert not kill_switch_engaged(world.region_a.pk)
    call_command("kill_switch", "engage", "--reason", "everything")
    assert kill_switch_engaged(world.region_b.pk) and Campaign.objects.get(pk=south.pk).state == "stopped"
    assert capsys.readouterr().out.strip().splitlines()[-1] == "global switch engaged: True"


def test_clear_errors(world):
    with pytest.raises(CommandError, match="reason is required"):
        call_command("kill_switch", "engage")
    with pytest.raises(CommandError, match="no region 'NOWHERE'"):
        call_command("kill_switch", "engage", "--region", "NOWHERE", "--reason", "x")
    assert not AuditEvent.objects.filter(action="interventions.kill_switch").exists()
