import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from predictions.demo import score_in_process
from predictions.selectors import payback_months
from tests.factories import CustomerFactory, OrderFactory
from tests.predictions.helpers import active_model


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def _customers(world):
    cohort = dt.datetime(2025, 1, 10, tzinfo=dt.UTC)
    for region, source in ((world.region_a, "search-north"), (world.region_b, "social-south")):
        for _ in range(3):
            customer = CustomerFactory(region=region, first_seen=cohort, acquisition_source=source, acquisition_cost=20)
            OrderFactory(customer=customer, placed_at=cohort, total=15)
            OrderFactory(customer=customer, placed_at=cohort + dt.timedelta(days=40), total=15)


@pytest.mark.django_db
def test_clv_shows_value_to_date_and_predictions_of_own_regions_only(world):
    _customers(world)
    active_model(kind="value")
    run = score_in_process(kind="value")
    assert run.state == "published" and run.expected_rows == 6
    response = _client(world.manager_a).get(reverse("predictions:clv"))
    page = response.content.decode()
    assert "search-north" in page and "social-south" not in page
    assert "90.00" in page  # 3 customers x 30 spent so far in the 2025-01 cohort of NORTH
    assert f"90.00 {world.region_a.currency}</td>" in page  # every amount carries its region's currency
    assert 'id="clv-data"' in page and "js/clv.js" in page
    export = _client(world.manager_a).get(reverse("predictions:clv") + "?format=csv")
    lines = b"".join(export.streaming_content).decode().splitlines()
    assert lines[0] == "cohort,region,customers,value_to_date,predicted_12m"
    assert lines[1].startswith("2025-01,NORTH,3,90.0,")


@pytest.mark.django_db
def test_clv_without_data_or_predictions_explains_what_to_do(world):
    page = _client(world.manager_a).get(reverse("predictions:clv")).content.decode()
    assert "No value predictions are published yet" in page and "No customers in the selected regions" in page
    assert "clv.js" not in page


def test_payback_months_observed_projected_and_unknown():
    assert payback_months(cost=20, value_to_date=40, months_so_far=10, predicted_12m=None) == 5.0
    assert payback_months(cost=20, value_to_date=10, months_so_far=3, predicted_12m=24) == 8.0
    assert payback_months(cost=20, value_to_date=0, months_so_far=1, predicted_12m=1) is None
    assert payback_months(cost=None, value_to_date=5, months_so_far=1, predicted_12m=5) is None


@pytest.mark.django_db
def test_cohort_curves_stop_at_the_last_month_in_the_data(world):
    from predictions.selectors import cohort_value_curves

    def buy(first: dt.datetime, *months_later: int) -> None:
        customer = CustomerFactory(region=world.region_a, first_seen=first)
        for m in (0, *months_later):
            OrderFactory(
                customer=customer, region=world.region_a, placed_at=first + dt.timedelta(days=31 * m), total=10
            )

    buy(dt.datetime(2025, 1, 5, tzinfo=dt.UTC), 2)  # January cohort, the data ends in March
    buy(dt.datetime(2025, 3, 5, tzinfo=dt.UTC))  # March cohort: only its first month has happened
    curves = {c["cohort"]: c["cumulative_per_customer"] for c in cohort_value_curves(world.manager_a)["curves"]}
    assert curves["2025-01"][:4] == [10.0, 10.0, 20.0, None] and set(curves["2025-01"][3:]) == {None}
    assert curves["2025-03"][0] == 10.0 and set(curves["2025-03"][1:]) == {None}


@pytest.mark.django_db
def test_clv_charts_sit_in_cards_with_help(world):
    _customers(world)
    page = _client(world.manager_a).get(reverse("predictions:clv")).content.decode()
    for chart in ("clv-regions", "clv-curves", "clv-payback"):
        assert f'<canvas id="{chart}"' in page
        assert f'aria-describedby="{chart}-tip" aria-label="How to read' in page
    assert page.count('<figure class="chart card">') == 3
