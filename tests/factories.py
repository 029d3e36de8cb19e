"""factory_boy factories for the platform models. Domain apps add theirs below their own heading."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from cartportal import models

UTC = dt.UTC


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Region
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"R{n}")
    name = factory.LazyAttribute(lambda o: f"Region {o.code}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        from django.contrib.auth.models import Group

        for role in extracted or []:
            self.groups.add(Group.objects.get_or_create(name=role)[0])
        self.save()


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Customer

    external_id = factory.Sequence(lambda n: f"C{n:06d}")
    region = factory.SubFactory(RegionFactory)
    name = factory.Faker("name")
    email = factory.Faker("email")
    first_seen = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=200))


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Product

    sku = factory.Sequence(lambda n: f"SKU{n:05d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    category = "home"
    price = Decimal("9.99")


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Order

    external_id = factory.Sequence(lambda n: f"O{n:07d}")
    customer = factory.SubFactory(CustomerFactory)
    region = factory.LazyAttribute(lambda o: o.customer.region)
    placed_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=30))
    total = Decimal("25.00")


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.OrderLine

    order = factory.SubFactory(OrderFactory)
    region = factory.LazyAttribute(lambda o: o.order.region)
    line_no = factory.Sequence(lambda n: n + 1)
    product = factory.SubFactory(ProductFactory)
    sku = factory.LazyAttribute(lambda o: o.product.sku if o.product else "")
    quantity = 1
    unit_price = Decimal("25.00")
    amount = Decimal("25.00")


class SessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Session

    external_id = factory.Sequence(lambda n: f"S{n:07d}")
    region = factory.SubFactory(RegionFactory)
    started_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(hours=2))
    product_pages = 5
    product_duration = 120.0


class CartEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.CartEvent

    session = factory.SubFactory(SessionFactory)
    region = factory.LazyAttribute(lambda o: o.session.region)
    product = factory.SubFactory(ProductFactory)
    kind = models.CartEvent.Kind.ADD
    unit_price = Decimal("9.99")
    occurred_at = factory.LazyFunction(timezone.now)


class ReviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Review

    product = factory.SubFactory(ProductFactory)
    customer = factory.SubFactory(CustomerFactory)
    region = factory.LazyAttribute(lambda o: o.customer.region)
    rating = 4
    text = "Arrived on time, works well."
