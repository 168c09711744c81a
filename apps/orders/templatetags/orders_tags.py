"""``{{ amount|money:currency }}``: integer minor units shown as a price."""

from __future__ import annotations

from django import template

register = template.Library()

SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£"}
# Stripe's zero-decimal currencies that we might price in: the amount is already whole units.
ZERO_DECIMAL = {"jpy", "krw", "vnd", "clp", "isk"}


@register.filter
def money(amount: int | None, currency: str = "usd") -> str:
    currency = (currency or "usd").lower()
    amount = amount or 0
    value = f"{amount:,}" if currency in ZERO_DECIMAL else f"{amount / 100:,.2f}"
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{value}" if symbol else f"{value} {currency.upper()}"
