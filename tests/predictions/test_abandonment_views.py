import datetime as dt

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cartportal.models import Session
from tests.factories import CartEventFactory, ProductFactory, ReviewFactory


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_empty_states_without_sessions_or_model(world):
    body = _client(world.manager_a).get(reverse("predictions:abandonment")).content.decode()
    assert "No sessions in these regions yet" in body and "No open carts in these regions now" in body
    assert "Friction drivers appear once an abandonment model has been trained" in body
    assert "No review text in these regions yet" in body


def test_review_friction_table_by_category(world):
    ReviewFactory(
        product=ProductFactory(category="lamps"),
        customer__region=world.region_a,
        rating=1,
        text="Arrived late and the box was damaged",
    )
    ReviewFactory(product=ProductFactory(category="rugs"), customer__region=world.region_b, rating=1, text="Broken")
    response = _client(world.manager_a).get(reverse("predictions:abandonment"))
    rows = response.context["review_friction"]
    assert [r["group"] for r in rows] == ["lamps"]
    assert rows[0]["negative_share"] == 1.0 and rows[0]["shipping_share"] == 1.0
    assert "Review friction by category" in response.content.decode()


def test_open_carts_are_listed_unscored_by_value_before_any_model(world):
    now = timezone.now()
    product = ProductFactory(price=20)
    for name, quantity, minutes in (("open-small", 1, 30), ("open-big", 3, 20), ("emptied", 1, 10)):
        session = Session.objects.create(
            external_id=name, region=world.region_a, started_at=now - dt.timedelta(hours=1)
        )
        CartEventFactory(
            session=session,
            region=world.region_a,
            product=product,
            kind="add",
            unit_price=20,
            quantity=quantity,
            occurred_at=now - dt.timedelta(minutes=minutes),
        )
    emptied = Session.objects.get(external_id="emptied")
    CartEventFactory(
        session=emptied,
        region=world.region_a,
        product=product,
        kind="remove",
        unit_price=20,
        occurred_at=now - dt.timedelta(minutes=5),
    )
    no_cart = Session.objects.create(external_id="no-cart", region=world.region_a, started_at=now)
    response = _client(world.manager_a).get(reverse("predictions:abandonment"))
    rows = response.context["risk"].rows
    assert [r["external_id"] for r in rows] == ["open-big", "open-small"]  # by cart value; no empty or cartless one
    assert [r["cart_value"] for r in rows] == [60.0, 20.0] and rows[0]["probability"] is None
    assert "not scored yet" in response.content.decode() and no_cart.external_id not in response.content.decode()
    assert _client(world.manager_b).get(reverse("predictions:abandonment")).context["risk"].rows == []


def test_every_abandonment_chart_has_a_help(world):
    import re

    CartEventFactory(session__region=world.region_a)
    body = _client(world.manager_a).get(reverse("predictions:abandonment")).content.decode()
    canvases = re.findall(r'<canvas id="([^"]+)"', body)
    assert "funnel-chart" in canvases
    for chart in canvases:
        assert re.search(rf'role="tooltip" id="{chart}-tip" class="tip-text">[^<]{{40,}}<', body), chart


def test_a_new_process_reads_the_fitted_sentiment_model_and_fits_none_in_a_request(
    world, settings, tmp_path, monkeypatch
):
    """Fitting the review sentiment model took seconds of the tab's first load: it is fitted once and kept in the
    shared cache, so a restarted web process (its own memory empty) loads it; a new review still updates the table."""
    from predictions import reviews

    good = ["great product works well", "love it excellent quality", "very happy fast delivery", "perfect fit nice"]
    bad = ["terrible broke after a day", "awful quality do not buy", "arrived late and damaged", "waste of money bad"]
    (tmp_path / "amazon_cells_labelled.txt").write_text(
        "".join(f"{t} {i}\t1\n" for i in range(5) for t in good)
        + "".join(f"{t} {i}\t0\n" for i in range(5) for t in bad)
    )
    settings.CARTPORTAL_DATA_DIR = str(tmp_path)
    reviews.default_model.cache_clear()
    lamps = ProductFactory(category="lamps")
    ReviewFactory(product=lamps, customer__region=world.region_a, rating=None, text="terrible quality, broke")
    client = _client(world.manager_a)
    first = client.get(reverse("predictions:abandonment")).context["review_friction"]
    assert [(r["group"], r["reviews"], r["negative_share"]) for r in first] == [("lamps", 1, 1.0)]

    reviews.default_model.cache_clear()  # a restarted process: nothing in its memory

    def no_fitting(*args, **kwargs):
        raise AssertionError("the sentiment model was fitted again in a request")

    monkeypatch.setattr(reviews.SentimentModel, "fit", no_fitting)
    ReviewFactory(product=lamps, customer__region=world.region_a, rating=None, text="love it, excellent quality")
    again = client.get(reverse("predictions:abandonment")).context["review_friction"]
    assert [(r["group"], r["reviews"], r["negative_share"]) for r in again] == [("lamps", 2, 0.5)]
    reviews.default_model.cache_clear()


def test_a_web_process_loads_the_sentiment_model_when_it_starts_not_in_its_first_request():
    from cartportal.wsgi import warm_up
    from predictions import reviews

    reviews.default_model.cache_clear()
    warm_up()  # what importing the WSGI application runs when gunicorn starts a worker
    assert reviews.default_model.cache_info().currsize == 1


def test_open_carts_scored_now_are_kept_as_a_rollup_and_a_slow_one_is_refreshed_by_a_task(
    world, settings, django_capture_on_commit_callbacks
):
    """Without a published run the tab lists the open carts scored now; on a large shop that takes minutes, so the
    list is a rollup: with rollups counted as slow, a new cart does not make the page compute in the request (the
    list is served as it was and one refresh is queued), and the refresh brings the new cart in."""
    from cartportal.pages.tasks import refresh_rollup
    from predictions.abandonment import selectors

    now = timezone.now()
    product = ProductFactory(price=20)

    def open_cart(name: str, quantity: int) -> None:
        session = Session.objects.create(external_id=name, region=world.region_a, started_at=now)
        CartEventFactory(
            session=session,
            region=world.region_a,
            product=product,
            kind="add",
            unit_price=20,
            quantity=quantity,
            occurred_at=now - dt.timedelta(minutes=10),
        )

    def listed() -> list[str]:
        page = _client(world.manager_a).get(reverse("predictions:abandonment"))
        return [r["external_id"] for r in page.context["risk"].rows]

    open_cart("first", 1)
    assert listed() == ["first"]
    settings.PORTAL_ROLLUP_SYNC_SECONDS = 0  # every rollup counts as slow: stale values are served
    open_cart("second", 2)
    with django_capture_on_commit_callbacks() as queued:
        assert listed() == ["first"]  # as computed before the new cart, without scoring in the request
    assert len(queued) >= 1
    refresh_rollup(selectors._open_carts_now.rollup_name, [world.region_a.pk])  # what the worker runs
    assert listed() == ["second", "first"]
