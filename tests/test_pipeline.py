"""The whole path, as its users walk it: proposal, signature, review, invoice, payments."""

from __future__ import annotations

from messages.models import invoice_workflow_id, proposal_workflow_id
from tests.conftest import Stack
from tests.helpers import (
    CLIENT,
    attachment,
    create_client,
    create_proposal,
    eventually,
    get_json,
    invoice_of_proposal,
    pdf_text,
    proposal_email,
    wait_invoice_status,
)


async def test_proposal_to_paid_through_the_api(stack: Stack) -> None:
    client_id = await create_client(stack)
    proposal = await create_proposal(stack, client_id)
    assert proposal["status"] == "sent"
    # 10 h x 250.00 + 1000.00 less 10 % = 3400.00 net; VAT 21 % = 714.00.
    assert (proposal["subtotal"], proposal["vat_total"], proposal["total"]) == (
        "3400.00",
        "714.00",
        "4114.00",
    )

    message, sign_path = await proposal_email(stack)
    assert message["To"] == CLIENT["email"]
    # Numbered when sent, in the proposal series (OF), not the invoice series.
    number = (await get_json(stack, f"/api/v1/proposals/{proposal['id']}"))["number"]
    assert number.startswith("OF-") and number.endswith("-00001")
    assert message["Subject"] == f"Ofertă {number} de la q2c Demo SRL"
    filename, proposal_pdf = attachment(message)
    assert filename == "proposal.pdf"
    text = pdf_text(proposal_pdf)
    assert "Consultanță juridică" in text and "4.114,00 RON" in text

    page = await stack.api.get(sign_path)
    assert page.status_code == 200
    assert "Consultanță juridică" in page.text and 'name="signer_name"' in page.text

    refused = await stack.api.post(sign_path, data={"signer_name": "Ana Pop"})
    assert refused.status_code == 422, "signing without consent is refused"

    signed = await stack.api.post(
        sign_path,
        data={"signer_name": "Ana Pop", "signer_email": "ana@exemplu.ro", "consent": "yes"},
        headers={"User-Agent": "pytest-browser/1.0"},
    )
    assert signed.status_code == 200 and "Ana Pop" in signed.text
    invoice_id = await invoice_of_proposal(stack, sign_path)

    signature = await stack.db.fetchrow(
        "SELECT * FROM signatures WHERE proposal_id = $1", proposal["id"]
    )
    assert signature is not None and signature["signer_name"] == "Ana Pop"
    assert signature["ip"] == "203.0.113.7" and signature["user_agent"] == "pytest-browser/1.0"
    assert len(signature["document_sha256"]) == 64

    draft = await wait_invoice_status(stack, invoice_id, "awaiting_review")
    assert draft["number"] is None and draft["total"] == "4114.00"
    assert draft["proposal_id"] == proposal["id"] and draft["client_id"] == client_id
    draft_pdf = await stack.api.get(f"/api/v1/invoices/{invoice_id}/pdf")
    assert "CIORNĂ" in pdf_text(draft_pdf.content)

    edited = await stack.api.patch(
        f"/api/v1/invoices/{invoice_id}", json={"notes": "Conform ofertei acceptate."}
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["notes"] == "Conform ofertei acceptate."

    approved = await stack.api.post(f"/api/v1/invoices/{invoice_id}/approve")
    assert approved.status_code == 202
    sent = await wait_invoice_status(stack, invoice_id, "sent")
    year = (await stack.env.get_current_time()).year
    assert sent["number"] == f"INV-{year}-00001"
    assert sent["amount_due"] == "4114.00"

    invoice_mail = await stack.mail.wait_for(lambda m: sent["number"] in str(m["Subject"]))
    assert invoice_mail["To"] == CLIENT["email"]
    filename, invoice_pdf = attachment(invoice_mail)
    assert filename == f"{sent['number']}.pdf"
    text = pdf_text(invoice_pdf)
    assert sent["number"] in text and "4.114,00 RON" in text and "Conform ofertei" in text

    again = await stack.api.post(f"/api/v1/invoices/{invoice_id}/approve")
    assert again.status_code == 409 and "sent" in again.json()["detail"]

    payments = f"/api/v1/invoices/{invoice_id}/payments"
    first = await stack.api.post(
        payments, json={"amount": "1000.00", "paid_at": "2026-12-01", "reference": "OP-123"}
    )
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "partially_paid" and first.json()["amount_due"] == "3114.00"

    repeated = await stack.api.post(
        payments, json={"amount": "1000.00", "paid_at": "2026-12-01", "reference": "OP-123"}
    )
    assert repeated.status_code == 200 and repeated.json()["payment_recorded"] is False
    assert repeated.json()["amount_due"] == "3114.00"

    float_amount = await stack.api.post(
        payments, json={"amount": 3114.0, "paid_at": "2026-12-02", "reference": "OP-124"}
    )
    assert float_amount.status_code == 422 and "amount" in float_amount.text

    too_precise = await stack.api.post(
        payments, json={"amount": "0.001", "paid_at": "2026-12-02", "reference": "OP-X"}
    )
    assert too_precise.status_code == 422 and "amount" in too_precise.text

    last = await stack.api.post(
        payments, json={"amount": "3114.00", "paid_at": "2026-12-02", "reference": "OP-124"}
    )
    assert last.status_code == 201 and last.json()["status"] == "paid"
    assert last.json()["amount_due"] == "0.00"

    retried = await stack.api.post(
        payments, json={"amount": "3114.00", "paid_at": "2026-12-02", "reference": "OP-124"}
    )
    assert retried.status_code == 200 and retried.json()["payment_recorded"] is False
    lines = (await get_json(stack, f"/api/v1/invoices/{invoice_id}"))["lines"]
    assert [(line["quantity"], line["vat_rate"], line["net_amount"]) for line in lines] == [
        ("10", "21", "2500.00"),
        ("1", "21", "900.00"),
    ]

    after_paid = await stack.api.post(f"/api/v1/invoices/{invoice_id}/approve")
    assert after_paid.status_code == 409
    assert after_paid.json()["detail"].endswith("this one is paid")

    handle = stack.env.client.get_workflow_handle(invoice_workflow_id(invoice_id))
    assert await handle.result() == "paid"

    listed = await get_json(stack, f"/api/v1/invoices?status=paid&client_id={client_id}")
    assert [item["id"] for item in listed["items"]] == [invoice_id]
    assert await stack.db.fetchval(
        "SELECT array_agg(to_status ORDER BY id) FROM invoice_status_changes WHERE invoice_id=$1",
        invoice_id,
    ) == ["awaiting_review", "sent", "partially_paid", "paid"]
    assert await stack.db.fetchval("SELECT sum(amount) FROM payments") == 4114
    # The proposal's workflow ends once the signed copy (its own email) has gone out; that
    # runs beside the invoice's review, so its place among the emails is not fixed.
    proposal_handle = stack.env.client.get_workflow_handle(proposal_workflow_id(proposal["id"]))
    await proposal_handle.result()
    kinds = await stack.db.fetch("SELECT kind, status FROM email_outbox ORDER BY created_at")
    assert sorted((row["kind"], row["status"]) for row in kinds) == [
        ("invoice", "sent"),
        ("proposal", "sent"),
        ("signed", "sent"),
    ]
    assert len(stack.mail.messages) == 3


async def test_bad_input_names_the_field_and_unknown_ids_are_404(stack: Stack) -> None:
    client_id = await create_client(stack)
    bad = await stack.api.post(
        "/api/v1/proposals",
        json={
            "client_id": client_id,
            "currency": "RON",
            "valid_until": "2099-01-01",
            "lines": [{"description": "x", "quantity": "0", "unit_price": "1", "vat_rate": "21"}],
        },
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "lines", 0, "quantity"]

    bad_email = await stack.api.post("/api/v1/clients", json=CLIENT | {"email": "not-an-email"})
    assert bad_email.status_code == 422 and bad_email.json()["detail"][0]["loc"][-1] == "email"

    missing = await stack.api.get("/api/v1/invoices/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    unauthorized = await stack.api.get(
        f"/api/v1/clients/{client_id}", headers={"Authorization": "Bearer wrong"}
    )
    assert unauthorized.status_code == 401
    unknown_link = await stack.api.get("/sign/not-a-real-token")
    assert unknown_link.status_code == 404 and "proposal" not in unknown_link.text.lower()
    assert await eventually(lambda: _no_mail(stack), within=1) is True


async def _no_mail(stack: Stack) -> bool:
    return not stack.mail.messages


async def test_a_refused_signal_from_the_temporal_ui_changes_nothing(stack: Stack) -> None:
    """The Temporal UI can send any signal at any time; the workflow logs and ignores what
    the invoice's status forbids."""
    from messages.models import ApproveInvoice
    from tests.helpers import issued_invoice
    from workflows.invoice import InvoiceWorkflow

    invoice = await issued_invoice(stack)
    before = await get_json(stack, f"/api/v1/invoices/{invoice['id']}/history")
    handle = stack.env.client.get_workflow_handle(invoice_workflow_id(invoice["id"]))
    await handle.signal(InvoiceWorkflow.approve, ApproveInvoice("temporal-ui"))
    # The signal is in the history; a query after it sees the same invoice.
    snapshot = await handle.query(InvoiceWorkflow.status)
    assert snapshot.status == "sent" and snapshot.number == invoice["number"]
    after = await get_json(stack, f"/api/v1/invoices/{invoice['id']}/history")
    assert after == before
    assert [(item["to"], item["cause"]) for item in after["items"]] == [
        ("awaiting_review", "draft ready for review"),
        ("sent", "invoice emailed"),
    ]
    numbers = await stack.db.fetchval("SELECT count(*) FROM invoices WHERE number IS NOT NULL")
    assert numbers == 1, "no second number was taken"
