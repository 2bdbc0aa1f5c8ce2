"""Task functions of the `fulfil` workflow (the local stand-ins for Lambda functions).

Each takes the task input and, optionally, the task context (`idempotencyToken` is stable
across re-runs of the same attempt: a real payment call would pass it as its idempotency key).
"""

from __future__ import annotations

from typing import Any


class InvalidOrder(Exception):
    """The order cannot be fulfilled as placed (caught by the workflow → status INVALID)."""


class PaymentGatewayBusy(Exception):
    """A transient payment failure: the workflow retries it."""


class OutOfStock(Exception):
    """Not enough stock: the workflow compensates (refund) and cancels the order."""


_charge_attempts: dict[str, int] = {}
charges: dict[str, dict[str, Any]] = {}


def validate_order(order: dict[str, Any]) -> dict[str, Any]:
    if order.get("quantity", 0) <= 0 or order.get("amount", 0) <= 0:
        raise InvalidOrder(f"order {order.get('id')} needs a positive quantity and amount")
    return {"valid": True}


def charge_payment(order: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    # The first attempt per order fails with a transient error, to show Retry at work.
    attempts = _charge_attempts[order["id"]] = _charge_attempts.get(order["id"], 0) + 1
    if attempts == 1:
        raise PaymentGatewayBusy("try again")
    charge = charges.setdefault(context["idempotencyToken"], {"orderId": order["id"], "amount": order["amount"]})
    return {"chargeId": f"ch-{order['id']}", "amount": charge["amount"]}


def reserve_stock(order: dict[str, Any]) -> dict[str, Any]:
    if order["quantity"] > 100:
        raise OutOfStock(f"only 100 {order['item']} left")
    return {"reservationId": f"rs-{order['id']}"}


def ship(order: dict[str, Any]) -> dict[str, Any]:
    return {"trackingNumber": f"TRK-{order['id']}"}


def refund(order: dict[str, Any]) -> dict[str, Any]:
    return {"refunded": order["amount"]}
