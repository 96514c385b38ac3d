"""The hosted invoice page a client opens from the invoice and reminder emails."""

from __future__ import annotations

import re
from datetime import date, timedelta

from tests.conftest import PUBLIC_URL, Stack
from tests.helpers import eventually, issued_invoice, pdf_text

INVOICE_LINK = re.compile(re.escape(PUBLIC_URL) + r"(/i/[A-Za-z0-9_\-]+)")


async def _link_in_invoice_email(stack: Stack, number: str) -> str:
    message = await stack.mail.wait_for(lambda m: number in str(m["Subject"]))
    body = message.get_body(("plain",))
    assert body is not None
    match = INVOICE_LINK.search(body.get_content())
    assert match, "the invoice email links to the hosted page"
    return match.group(1)


async def test_the_page_shows_what_is_due_and_how_to_pay(stack: Stack) -> None:
    invoice = await issued_invoice(stack)
    link = await _link_in_invoice_email(stack, invoice["number"])

    page = await stack.api.get(link, headers={"User-Agent": "phone-browser/2"})
    assert page.status_code == 200
    html = page.text.replace("\xa0", " ")
    assert invoice["number"] in html
    assert 'data-status="sent"' in html and "în așteptarea plății" in html
    assert "4.114,00 RON" in html  # amount due
    assert "RO49AAAA1B31007593840000" in html and "Banca Exemplu" in html
    due = date.fromisoformat(invoice["due_date"])
    assert str(due.day) in html and str(due.year) in html

    pdf = await stack.api.get(f"{link}/pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert invoice["number"] in pdf_text(pdf.content)

    views = await stack.db.fetch(
        "SELECT * FROM audit_events WHERE invoice_id = $1 AND kind = 'viewed'", invoice["id"]
    )
    assert len(views) == 1
    assert views[0]["ip"] == "203.0.113.7" and views[0]["user_agent"] == "phone-browser/2"
    assert (
        await stack.db.fetchval("SELECT status FROM invoices WHERE id = $1", invoice["id"])
    ) == "sent", "a view is an event, not a status"

    paid = await stack.api.post(
        f"/api/v1/invoices/{invoice['id']}/payments",
        json={"amount": "4114.00", "paid_at": "2026-12-01", "reference": "P-1"},
    )
    assert paid.json()["status"] == "paid"
    after = (await stack.api.get(link)).text.replace("\xa0", " ")
    assert 'data-status="paid"' in after and "0,00 RON" in after
    assert "Nu mai este nimic de plată" in after


async def test_links_open_only_their_own_invoice_and_expire(stack: Stack) -> None:
    first = await issued_invoice(stack)
    first_link = await _link_in_invoice_email(stack, first["number"])
    second = await issued_invoice(stack, email="alt@exemplu.ro", name="Alt Client SRL")
    second_link = await _link_in_invoice_email(stack, second["number"])
    assert first_link != second_link

    first_page = (await stack.api.get(first_link)).text
    assert first["number"] in first_page and second["number"] not in first_page
    assert "Alt Client SRL" not in first_page

    guessed = await stack.api.get("/i/" + "A" * 43)
    assert guessed.status_code == 404 and "invoice" not in guessed.text.lower()

    stored_hashes = await stack.db.fetchval(
        "SELECT count(*) FROM access_tokens WHERE token_hash = $1",
        first_link.rsplit("/", 1)[1],
    )
    assert stored_hashes == 0, "only the hash of a link token is stored"

    token_hash = await stack.db.fetchval(
        """SELECT token_hash FROM access_tokens
           WHERE invoice_id = $1 AND purpose = 'invoice'""",
        first["id"],
    )
    lifetime = await stack.db.fetchval(
        """SELECT expires_at - created_at FROM access_tokens WHERE token_hash = $1""",
        token_hash,
    )
    assert timedelta(days=179) < lifetime < timedelta(days=181), "links last 180 days"
    await stack.db.execute(
        "UPDATE access_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1",
        token_hash,
    )
    expired = await stack.api.get(first_link)
    assert expired.status_code == 410 and "a expirat" in expired.text
    assert (await stack.api.get(f"{first_link}/pdf")).status_code == 404


async def test_partly_paid_and_overdue_is_shown_as_both(stack: Stack) -> None:
    from tests.test_reminders import local, skip_to

    invoice = await issued_invoice(stack)
    link = await _link_in_invoice_email(stack, invoice["number"])
    await skip_to(stack, local(date.fromisoformat(invoice["due_date"]) + timedelta(days=1), 8))

    async def overdue() -> bool:
        row = await stack.api.get(f"/api/v1/invoices/{invoice['id']}")
        return bool(row.json()["status"] == "overdue")

    await eventually(overdue, what="overdue")
    partial = await stack.api.post(
        f"/api/v1/invoices/{invoice['id']}/payments",
        json={"amount": "14.00", "paid_at": "2026-12-20", "reference": "P-1"},
    )
    body = partial.json()
    assert (body["status"], body["overdue"], body["amount_due"]) == ("overdue", True, "4100.00")
    page = (await stack.api.get(link)).text.replace("\xa0", " ")
    assert "restantă, plătită parțial" in page and "4.100,00 RON" in page
    assert "plătită</strong>" not in page


async def test_a_cancelled_invoice_links_its_credit_note(stack: Stack) -> None:
    invoice = await issued_invoice(stack)
    link = await _link_in_invoice_email(stack, invoice["number"])
    voided = await stack.api.post(f"/api/v1/invoices/{invoice['id']}/void", json={})
    assert voided.status_code == 202, voided.text

    async def credit_note_number() -> str | None:
        row = await stack.db.fetchrow(
            """SELECT number FROM credit_notes
               WHERE invoice_id = $1 AND document_key IS NOT NULL""",
            invoice["id"],
        )
        return str(row["number"]) if row else None

    number = await eventually(credit_note_number, what="the credit note")
    html = (await stack.api.get(link)).text.replace("\xa0", " ")
    assert 'data-status="void"' in html and "anulată" in html
    assert f"Anulată prin factura de stornare {number} din" in html
    assert "Nu mai este nimic de plată" in html
    pdf = await stack.api.get(f"{link}/credit-note.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content)
    assert number in text and invoice["number"] in text

    other = await issued_invoice(stack, email="other@client.ro")
    other_link = await _link_in_invoice_email(stack, other["number"])
    assert (await stack.api.get(f"{other_link}/credit-note.pdf")).status_code == 404
