"""The win-back interventions render for a lapsed customer from their own orders and pass every guardrail; a
customer with nothing to win back, or a shop without a membership page, is a refusal with a reason."""

from decimal import Decimal

import pytest

from interventions import catalogue
from interventions.delivery.render import render_message
from interventions.winback.content import code_is_valid, customer_code
from tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db


def _lapsed(region, totals=("40.00", "60.00")):
    customer = CustomerFactory(region=region)
    for total in totals:
        OrderFactory(customer=customer, total=Decimal(total))
    return customer


def test_win_back_discount_states_the_intervention_limit_and_a_verifiable_personal_code(world):
    customer, other = _lapsed(world.region_a), _lapsed(world.region_a)
    rendered = render_message("winback_discount", customer)
    code = customer_code("winback_discount", customer)
    assert rendered.refusal == ""
    assert (
        rendered.text == f"It has been a while since your last order. Your next order is 10% cheaper with code {code}."
    )
    assert catalogue.message_violations(catalogue.get("winback_discount"), rendered.text) == []
    assert render_message("winback_discount", customer).text == rendered.text  # the same code every time
    assert code_is_valid("winback_discount", customer, code.lower())
    assert not code_is_valid("winback_discount", other, code)  # one customer's code is not another's
    assert code != customer_code("referral_code", customer)


def test_referral_credit_is_the_rate_of_the_customers_average_order(world):
    customer = _lapsed(world.region_a, totals=("40.00", "60.00"))  # average 50, rate 5 % -> 2.50
    rendered = render_message("referral_code", customer)
    code = customer_code("referral_code", customer)
    currency = world.region_a.currency
    assert rendered.refusal == "" and code.startswith("REF-")
    assert rendered.text == (
        f"Share code {code}: your friend gets 2.50 {currency} off their first order and you get 2.50 {currency} off"
        " your next."
    )
    small = _lapsed(world.region_a, totals=("10.00",))  # 5 % of 10 is below the smallest credit worth sending
    assert "too small for a referral credit" in render_message("referral_code", small).refusal


def test_membership_invitation_needs_a_membership_page(world, settings):
    customer = _lapsed(world.region_a)
    settings.CARTPORTAL_MEMBERSHIP_URL = ""
    assert render_message("membership_discount", customer).refusal == (
        "nothing to offer: no membership page is configured (CARTPORTAL_MEMBERSHIP_URL)"
    )
    settings.CARTPORTAL_MEMBERSHIP_URL = "https://shop.example/membership"
    rendered = render_message("membership_discount", customer)
    assert rendered.refusal == ""
    assert (
        rendered.text
        == "Members get 5% off every order. Join for free whenever you like: https://shop.example/membership."
    )


@pytest.mark.parametrize("code", catalogue.WINBACK)
def test_a_customer_who_never_bought_has_nothing_to_win_back(world, settings, code):
    settings.CARTPORTAL_MEMBERSHIP_URL = "https://shop.example/membership"
    never = CustomerFactory(region=world.region_a)
    OrderFactory(customer=never, total=Decimal("30.00"), status="cancelled")
    assert (
        render_message(code, never).refusal
        == "nothing to offer: the customer has never bought: there is nothing to win back"
    )


def test_a_discount_over_the_limit_would_be_refused():
    # the guardrail the providers rely on: a stated rate above the intervention's own limit is refused
    assert "discount over limit" in catalogue.message_violations(
        catalogue.get("membership_discount"), "Members get 10% off every order. Join for free whenever you like: x."
    )
