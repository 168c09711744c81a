"""factory_boy factories for orders (packages, orders, seats, exports)."""

from __future__ import annotations

import factory

from apps.orders.models import Order, Package, Seat, ZipExport
from tests.factories.accounts import UserFactory, WorkspaceFactory
from tests.factories.photos import SubjectFactory, TenantModelFactory


class PackageFactory(factory.django.DjangoModelFactory):
    """A package of its own (the migration also seeds starter/professional/team)."""

    class Meta:
        model = Package
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"package-{n}")
    name = factory.Sequence(lambda n: f"Package {n}")
    price_amount = 2900
    currency = "usd"
    images_per_seat = 40
    styles_count = 4
    reroll_credits = 2


class OrderFactory(TenantModelFactory):
    """A draft order; ``amount`` follows the package and seats. Seats are made separately
    (SeatFactory) so tests say how many people and whose photos."""

    class Meta:
        model = Order
        skip_postgeneration_save = True

    workspace = factory.SubFactory(WorkspaceFactory)
    buyer = factory.SubFactory(UserFactory)
    package = factory.SubFactory(PackageFactory)
    seats = 1
    amount = factory.LazyAttribute(lambda o: o.package.price_amount * o.seats)
    currency = factory.LazyAttribute(lambda o: o.package.currency)

    @factory.post_generation
    def styles(self, create, extracted, **kwargs):
        if create and extracted:
            self.styles.set(extracted)


class SeatFactory(TenantModelFactory):
    class Meta:
        model = Seat

    order = factory.SubFactory(OrderFactory)
    workspace = factory.SelfAttribute("order.workspace")
    subject = factory.SubFactory(SubjectFactory, workspace=factory.SelfAttribute("..workspace"))


class ZipExportFactory(TenantModelFactory):
    class Meta:
        model = ZipExport

    order = factory.SubFactory(OrderFactory)
    workspace = factory.SelfAttribute("order.workspace")


__all__ = ["OrderFactory", "PackageFactory", "SeatFactory", "ZipExportFactory"]
