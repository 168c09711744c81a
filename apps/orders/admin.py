"""Support site: packages, orders, seats, the credit ledger, Stripe events and gallery zips.

Money and Stripe state are read-only for everyone here (superusers included): amounts, refunds
and payment ids change only through services — the refund action below, webhooks, the ledger.
Search takes an e-mail, an order's public id or any Stripe id.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from apps.accounts.admin_tools import (
    SupportModelAdmin,
    change_link,
    changelist_link,
    confirm_action,
)
from apps.orders.models import CreditLedger, Order, Package, Seat, StripeEvent, ZipExport


def money(amount: int | None, currency: str) -> str:
    if amount is None:
        return "—"
    return f"{amount / 100:,.2f} {currency.upper()}"


@admin.register(Package)
class PackageAdmin(SupportModelAdmin):
    editable = True  # the catalogue: prices apply to new orders; orders keep their own amount
    list_display = (
        "name",
        "slug",
        "price",
        "per_seat",
        "images_per_seat",
        "styles_count",
        "reroll_credits",
        "active",
    )
    list_filter = ("active", "per_seat")
    search_fields = ("name", "slug")

    def get_readonly_fields(self, request, obj=None):
        # Orders copy amount and currency when made, so a price change only affects new ones.
        return ("slug",) if obj is not None else ()

    @admin.display(description="price", ordering="price_amount")
    def price(self, package: Package) -> str:
        return money(package.price_amount, package.currency)


class SeatInline(admin.TabularInline):
    model = Seat
    extra = 0
    can_delete = False
    fields = ("seat_link", "status", "subject_link", "member_link", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="seat")
    def seat_link(self, seat: Seat) -> str:
        return change_link(seat, str(seat.public_id))

    @admin.display(description="subject")
    def subject_link(self, seat: Seat) -> str:
        return change_link(seat.subject)

    @admin.display(description="member")
    def member_link(self, seat: Seat) -> str:
        return change_link(seat.member)


class RefundForm(forms.Form):
    confirm = forms.BooleanField(
        label="Refund the full amount to the customer's card. Unfinished work stops."
    )


@admin.register(Order)
class OrderAdmin(SupportModelAdmin):
    list_display = (
        "public_id",
        "workspace_link",
        "buyer_link",
        "package",
        "seats",
        "status",
        "total",
        "refunded",
        "created_at",
        "paid_at",
    )
    list_filter = ("status", "package", "created_at", "paid_at", "refunded_at", "disputed_at")
    search_fields = (
        "public_id",
        "buyer__email",
        "checkout_session_id",
        "payment_intent_id",
        "workspace__slug",
        "workspace__name",
        "seat_set__invited_email",
        "seat_set__member__email",
    )
    list_select_related = ("workspace", "buyer", "package")
    date_hierarchy = "created_at"
    # A live payment link is not for display; amounts show formatted ("78.00 USD") instead of
    # in minor units.
    exclude = ("checkout_url", "amount", "refunded_amount")
    readonly_fields = ("total", "refunded", "related")
    inlines = [SeatInline]
    actions = ["refund_orders"]

    @admin.display(description="buyer")
    def buyer_link(self, order: Order) -> str:
        if order.buyer_id is None and order.anonymised_at:
            return "erased"
        return change_link(order.buyer)

    @admin.display(description="total", ordering="amount")
    def total(self, order: Order) -> str:
        return money(order.amount, order.currency)

    @admin.display(description="refunded", ordering="refunded_amount")
    def refunded(self, order: Order) -> str:
        return money(order.refunded_amount, order.currency) if order.refunded_amount else "—"

    @admin.display(description="related")
    def related(self, order: Order) -> str:
        ids = [v for v in (order.checkout_session_id, order.payment_intent_id) if v]
        return format_html(
            "{} · {} · {}",
            changelist_link(CreditLedger, "credit ledger", order__id__exact=order.pk),
            changelist_link(StripeEvent, "Stripe events", q=ids[-1] if ids else "-"),
            changelist_link(ZipExport, "gallery zips", order__id__exact=order.pk),
        )

    @admin.action(description="Refund in full", permissions=["refund"])
    def refund_orders(self, request, queryset):
        from apps.orders import stripe_gateway
        from apps.orders.services import order_refund_request

        def apply(data):
            done = 0
            for order in queryset:
                try:
                    order_refund_request(order=order, actor=request.user)
                except ValidationError as exc:
                    self.message_user(
                        request, f"{order}: {' '.join(exc.messages)}", level=messages.ERROR
                    )
                except stripe_gateway.GatewayError:
                    self.message_user(
                        request,
                        f"{order}: Stripe did not accept the refund; try again shortly.",
                        level=messages.ERROR,
                    )
                else:
                    done += 1
            if done:
                self.message_user(
                    request,
                    f"Refund requested for {done} order(s); Stripe's webhook marks them refunded.",
                )

        return confirm_action(
            self,
            request,
            queryset,
            form_class=RefundForm,
            title="Refund orders",
            intro="Each selected paid order is refunded in full through Stripe.",
            button="Refund",
            apply=apply,
        )


@admin.register(Seat)
class SeatAdmin(SupportModelAdmin):
    list_display = (
        "public_id",
        "order_link",
        "workspace_link",
        "status",
        "subject_link",
        "member_link",
        "created_at",
    )
    list_filter = ("status", "created_at")
    search_fields = (
        "public_id",
        "order__public_id",
        "invited_email",
        "member__email",
        "subject__public_id",
        "workspace__slug",
    )
    list_select_related = ("order", "workspace", "subject", "member")
    actions = ["rerun_seats"]

    @admin.display(description="order")
    def order_link(self, seat: Seat) -> str:
        return change_link(seat.order)

    @admin.display(description="subject")
    def subject_link(self, seat: Seat) -> str:
        return change_link(seat.subject)

    @admin.display(description="member")
    def member_link(self, seat: Seat) -> str:
        return change_link(seat.member)

    @admin.action(description="Re-run training for failed seats", permissions=["rerun"])
    def rerun_seats(self, request, queryset):
        from apps.orders.orchestration import seat_retry_training

        started = 0
        for seat in queryset:
            try:
                started += bool(seat_retry_training(seat=seat, actor=request.user))
            except ValidationError as exc:
                self.message_user(
                    request, f"{seat}: {' '.join(exc.messages)}", level=messages.ERROR
                )
        if started:
            self.message_user(request, f"Training restarted for {started} seat(s).")


@admin.register(CreditLedger)
class CreditLedgerAdmin(SupportModelAdmin):
    """Append-only: no one adds, edits or deletes entries by hand."""

    list_display = ("created_at", "order_link", "kind", "credits", "reference", "actor_id")
    list_filter = ("kind", "created_at")
    search_fields = ("order__public_id", "reference", "workspace__slug")
    list_select_related = ("order",)
    date_hierarchy = "created_at"

    @admin.display(description="order")
    def order_link(self, entry: CreditLedger) -> str:
        return change_link(entry.order)


@admin.register(StripeEvent)
class StripeEventAdmin(SupportModelAdmin):
    """Stored webhook events: evidence, never edited."""

    list_display = ("received_at", "type", "stripe_id", "status", "livemode", "processed_at")
    list_filter = ("status", "type", "livemode", "received_at")
    search_fields = ("stripe_id", "payment_intent_id", "type", "payload")
    date_hierarchy = "received_at"


@admin.register(ZipExport)
class ZipExportAdmin(SupportModelAdmin):
    list_display = ("public_id", "order_link", "status", "size_bytes", "created_at", "finished_at")
    list_filter = ("status", "created_at")
    search_fields = ("public_id", "order__public_id", "workspace__slug")
    list_select_related = ("order",)
    exclude = ("file",)

    @admin.display(description="order")
    def order_link(self, export: ZipExport) -> str:
        return change_link(export.order)
