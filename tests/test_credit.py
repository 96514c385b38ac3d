"""Over-payments become the client's credit, which an operator applies to another invoice."""

from __future__ import annotations

from tests.conftest import Stack
from tests.helpers import (
    create_proposal,
    get_json,
    issued_invoice,
    proposal_email,
    sign_and_get_invoice,
    wait_invoice_status,
)


async def _second_invoice_for(stack: Stack, client_id: str) -> str:
    await create_proposal(stack, client_id)
    _, sign_path = await proposal_email(stack, skip=1)
    invoice_id = await sign_and_get_invoice(stack, sign_path)
    await wait_invoice_status(stack, invoice_id, "awaiting_review")
    await stack.api.post(f"/api/v1/invoices/{invoice_id}/approve")
    await wait_invoice_status(stack, invoice_id, "sent")
    return invoice_id


async def test_overpayment_becomes_credit_spent_once_and_only_by_its_client(
    stack: Stack,
) -> None:
    first = await issued_invoice(stack)
    paid = await stack.api.post(
        f"/api/v1/invoices/{first['id']}/payments",
        json={"amount": "4200.00", "paid_at": "2026-12-01", "reference": "OP-OVER"},
    )
    assert paid.status_code == 201 and paid.json()["status"] == "paid"
    assert paid.json()["amount_paid"] == "4114.00" and paid.json()["amount_due"] == "0.00"
    credit = await get_json(stack, f"/api/v1/clients/{first['client_id']}/credit")
    assert credit["balances"] == [{"currency": "RON", "amount": "86.00"}]
    assert credit["entries"][0]["invoice_number"] == first["number"]

    second = await _second_invoice_for(stack, first["client_id"])
    apply = f"/api/v1/invoices/{second}/apply-credit"
    too_much = await stack.api.post(apply, json={"amount": "86.01"})
    assert too_much.status_code == 422 and "86.00 RON" in too_much.json()["detail"][0]["msg"]
    applied = await stack.api.post(apply, json={"amount": "86.00", "reference": "C-1"})
    assert applied.status_code == 201, applied.text
    assert applied.json()["status"] == "partially_paid"
    assert applied.json()["amount_paid"] == "86.00" and applied.json()["amount_due"] == "4028.00"
    again = await stack.api.post(apply, json={"amount": "86.00", "reference": "C-1"})
    assert again.status_code == 200 and again.json()["payment_recorded"] is False
    credit = await get_json(stack, f"/api/v1/clients/{first['client_id']}/credit")
    assert credit["balances"] == [{"currency": "RON", "amount": "0.00"}]
    assert [entry["kind"] for entry in credit["entries"]] == ["overpayment", "applied"]
    assert (await stack.api.post(apply, json={"amount": "1.00"})).status_code == 422

    other = await issued_invoice(stack, email="other@exemplu.ro", name="Other SRL")
    stranger = await stack.api.post(
        f"/api/v1/invoices/{other['id']}/apply-credit", json={"amount": "1.00"}
    )
    assert stranger.status_code == 422, "another client's credit is not theirs to spend"
    sources = await stack.db.fetch("SELECT reference, source FROM payments ORDER BY created_at")
    assert [(row["reference"], row["source"]) for row in sources] == [
        ("OP-OVER", "transfer"),
        ("C-1", "credit"),
    ]
