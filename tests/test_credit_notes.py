"""Credit notes (storno): a void after issue cancels the invoice with a numbered, emailed
credit note of exactly minus its amounts; a void in review makes none; never two."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from activities.credit_notes import CreditNoteActivities
from domain.credit_notes import (
    CreditGroup,
    CreditNoteMismatch,
    needs_credit_note,
    negate_document_totals,
    negate_line,
    negate_totals,
)
from domain.i18n import format_day
from domain.money import Line, VatGroup
from domain.status import InvoiceStatus
from domain.vat import VatCategory, VatLine, compute_document_totals
from messages.models import CreditNoteInput, VoidInvoice, invoice_workflow_id
from starter.cli.main import main
from tests.conftest import Stack, release_time_skipping
from tests.helpers import (
    SIGN_LINK,
    attachment,
    create_client,
    create_proposal,
    eventually,
    get_json,
    issued_invoice,
    pdf_text,
    proposal_email,
    sign_and_get_invoice,
    wait_invoice_status,
)
from tests.test_reminders import replay_and_record
from workflows.invoice import InvoiceWorkflow

REDUCED = VatCategory.REDUCED

# --- the pure rules -------------------------------------------------------------------------


def test_only_a_voided_invoice_that_had_a_number_needs_a_credit_note() -> None:
    assert needs_credit_note(InvoiceStatus.VOID, "INV-2026-00007")
    assert not needs_credit_note(InvoiceStatus.VOID, None)
    assert not needs_credit_note("sent", "INV-2026-00007")
    assert not needs_credit_note("paid", "INV-2026-00007")


def test_totals_are_the_originals_negated_group_by_group() -> None:
    groups = [
        VatGroup(rate=Decimal("21"), base=Decimal("3400.00"), vat=Decimal("714.00")),
        VatGroup(rate=Decimal("11"), base=Decimal("99.99"), vat=Decimal("11.00")),
        VatGroup(rate=Decimal("0"), base=Decimal("10.01"), vat=Decimal("0.00")),
    ]
    figures = negate_totals(
        groups,
        original_subtotal=Decimal("3510.00"),
        original_vat_total=Decimal("725.00"),
        original_total=Decimal("4235.00"),
    )
    assert figures.subtotal == Decimal("-3510.00")
    assert figures.vat_total == Decimal("-725.00")
    assert figures.total == Decimal("-4235.00")
    assert [(g.rate, g.base, g.vat) for g in figures.groups] == [
        (Decimal("21"), Decimal("-3400.00"), Decimal("-714.00")),
        (Decimal("11"), Decimal("-99.99"), Decimal("-11.00")),
        (Decimal("0"), Decimal("-10.01"), Decimal("0.00")),
    ]


def test_groups_that_do_not_add_up_to_the_stored_totals_are_refused() -> None:
    with pytest.raises(CreditNoteMismatch):
        negate_totals(
            [VatGroup(rate=Decimal("21"), base=Decimal("100.00"), vat=Decimal("21.00"))],
            original_subtotal=Decimal("100.00"),
            original_vat_total=Decimal("21.00"),
            original_total=Decimal("121.01"),
        )


def test_a_storno_line_keeps_its_unit_price_and_negates_quantity_and_value() -> None:
    line = negate_line(Decimal("10"), Decimal("250.00"), Decimal("2500.00"))
    assert (line.quantity, line.unit_price, line.net) == (
        Decimal("-10"),
        Decimal("250.00"),
        Decimal("-2500.00"),
    )


def test_a_group_round_trips_through_its_stored_form() -> None:
    group = CreditGroup(Decimal("21"), Decimal("-3400.00"), Decimal("-714.00"), "standard")
    assert group.as_json() == {
        "rate": "21",
        "category": "standard",
        "base": "-3400.00",
        "vat": "-714.00",
    }
    assert CreditGroup.from_json(group.as_json()) == group


def test_document_totals_negated_keep_rates_categories_and_pricing() -> None:
    original = compute_document_totals(
        [
            Line("Ore", Decimal("3"), Decimal("99.99"), Decimal("21")),
            VatLine("Cărți", Decimal("2"), Decimal("45.50"), Decimal("11"), category=REDUCED),
        ],
        "RON",
        prices_include_vat=True,
        document_discount_percent=Decimal("5"),
    )
    negated = negate_document_totals(original)
    assert (negated.subtotal, negated.vat_total, negated.total) == (
        Decimal("-313.39"),
        Decimal("-58.03"),
        Decimal("-371.42"),
    )
    assert (negated.lines_net, negated.discount) == (Decimal("-329.89"), Decimal("-16.50"))
    assert [(g.rate, g.category, g.base, g.vat) for g in negated.groups] == [
        (Decimal("21"), VatCategory.STANDARD, Decimal("-235.51"), Decimal("-49.46")),
        (Decimal("11"), REDUCED, Decimal("-77.88"), Decimal("-8.57")),
    ]
    assert negated.line_nets == tuple(-net for net in original.line_nets)
    assert negated.prices_include_vat and negated.document_discount_percent == Decimal("5")
    assert negate_document_totals(negated) == original


# --- on the real stack ------------------------------------------------------------------------

# The invoice every `issued_invoice` makes: 10 h × 250.00 and 1 × 1000.00 less 10 %, all at
# 21 %: base 2500.00 + 900.00 = 3400.00, VAT 714.00, total 4114.00 RON.


def _is_credit_note(message: EmailMessage) -> bool:
    return str(message["X-Q2C-Key"] or "").startswith("credit_note:")


async def _credit_note_email(stack: Stack, to: str) -> EmailMessage:
    return await stack.mail.wait_for(lambda m: _is_credit_note(m) and m["To"] == to, timeout=20)


async def _void(stack: Stack, invoice_id: str, reason: str = "") -> None:
    response = await stack.api.post(f"/api/v1/invoices/{invoice_id}/void", json={"reason": reason})
    assert response.status_code == 202, response.text


async def _voided_with_credit_note(stack: Stack, invoice_id: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        invoice = await get_json(stack, f"/api/v1/invoices/{invoice_id}")
        return invoice if invoice["credit_note_id"] else None

    return await eventually(probe, what=f"the credit note of invoice {invoice_id}")


async def test_void_after_send_emails_a_credit_note_of_minus_the_invoice_linked_both_ways(
    stack: Stack,
) -> None:
    invoice = await issued_invoice(stack)
    invoice_id, original_number = invoice["id"], invoice["number"]
    year = date.fromisoformat(invoice["issue_date"]).year
    assert original_number == f"INV-{year}-00001"
    original_date_ro = format_day(date.fromisoformat(invoice["issue_date"]), "ro")

    await _void(stack, invoice_id, "Emisă din greșeală")
    message = await _credit_note_email(stack, "plati@exemplu.ro")
    voided = await _voided_with_credit_note(stack, invoice_id)
    number = f"CN-{year}-00001"

    # The original keeps its number and is void; it points at its credit note.
    assert voided["status"] == "void"
    assert voided["number"] == original_number
    assert voided["credit_note_number"] == number

    # The email: subject and body name both documents; the PDF is attached.
    assert number in message["Subject"] and original_number in message["Subject"]
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert f"factura seria INV nr. {original_number} din {original_date_ro}" in text
    assert "-4.114,00\xa0RON" in text
    filename, content = attachment(message)
    assert filename == f"{number}.pdf"

    pdf = pdf_text(content)
    assert "FACTURĂ DE STORNARE" in pdf
    assert number in pdf
    assert f"factura seria INV nr. {original_number} din {original_date_ro}" in pdf
    # Every line and total negated, to the cent.
    assert "-10" in pdf and "-2.500,00 RON" in pdf
    assert "-900,00 RON" in pdf
    assert "-3.400,00 RON" in pdf
    assert "-714,00 RON" in pdf
    assert "-4.114,00 RON" in pdf
    assert "minus patru mii o sută paisprezece lei" in pdf
    assert "Motiv: Emisă din greșeală" in pdf

    # The credit note points back at the original. It is marked sent once the outbox has
    # recorded SMTP's acceptance, a moment after the peer has the message.
    async def sent_note() -> dict[str, Any] | None:
        note = await get_json(stack, f"/api/v1/credit-notes/{voided['credit_note_id']}")
        return note if note["status"] == "sent" else None

    note = await eventually(sent_note, what="the credit note marked sent")
    assert note["number"] == number
    assert note["invoice_id"] == invoice_id
    assert note["invoice_number"] == original_number
    assert note["invoice_issue_date"] == invoice["issue_date"]
    assert (note["subtotal"], note["vat_total"], note["total"]) == (
        "-3400.00",
        "-714.00",
        "-4114.00",
    )
    assert note["vat_groups"] == [
        {"rate": "21", "category": "standard", "base": "-3400.00", "vat": "-714.00"}
    ]
    assert [
        (line["quantity"], line["unit_price"], line["net_amount"]) for line in note["lines"]
    ] == [
        ("-10", "250.0000", "-2500.00"),
        ("-1", "1000.0000", "-900.00"),
    ]
    assert note["amount_received"] == "0.00"
    listed = await get_json(stack, f"/api/v1/credit-notes?invoice_id={invoice_id}")
    assert [item["id"] for item in listed["items"]] == [note["id"]]
    served = await stack.api.get(f"/api/v1/credit-notes/{note['id']}/pdf")
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/pdf"
    assert served.content == content

    # The invoice's own PDF is the original, unchanged.
    original_pdf = pdf_text((await stack.api.get(f"/api/v1/invoices/{invoice_id}/pdf")).content)
    assert original_number in original_pdf and "4.114,00 RON" in original_pdf
    assert "STORNARE" not in original_pdf

    kinds = [
        row["kind"]
        for row in await stack.db.fetch(
            "SELECT kind FROM audit_events WHERE invoice_id = $1 ORDER BY id", invoice_id
        )
    ]
    assert kinds[-3:] == ["voided", "credit_note_issued", "credit_note_sent"]
    events = await stack.db.fetch(
        "SELECT payload FROM events WHERE type = 'credit_note.issued' AND invoice_id = $1",
        invoice_id,
    )
    assert len(events) == 1

    # Old histories replay on this code; this one is kept for later versions.
    handle = stack.env.client.get_workflow_handle(invoice_workflow_id(invoice_id))
    assert await handle.result() == "void"
    await release_time_skipping(stack.env)
    await replay_and_record(stack.env.client, handle.id, "credit-note")


async def test_a_second_void_or_a_retry_makes_no_second_credit_note(stack: Stack) -> None:
    invoice = await issued_invoice(stack)
    invoice_id = invoice["id"]
    await _void(stack, invoice_id)
    await _credit_note_email(stack, "plati@exemplu.ro")
    voided = await _voided_with_credit_note(stack, invoice_id)

    again = await stack.api.post(f"/api/v1/invoices/{invoice_id}/void", json={})
    assert again.status_code == 409
    handle = stack.env.client.get_workflow_handle(invoice_workflow_id(invoice_id))
    assert await handle.result() == "void"
    await release_time_skipping(stack.env)

    # The activities run again, as a retry after a lost answer would: same note, no email.
    activities = CreditNoteActivities(stack.services)
    request = CreditNoteInput(invoice_id, await stack.env.get_current_time())
    issued = await activities.issue_credit_note(request)
    assert (issued.credit_note_id, issued.number) == (
        voided["credit_note_id"],
        voided["credit_note_number"],
    )
    await activities.send_credit_note(request)

    assert await stack.db.fetchval("SELECT count(*) FROM credit_notes") == 1
    assert len([m for m in stack.mail.messages if _is_credit_note(m)]) == 1
    assert (
        await stack.db.fetchval(
            "SELECT next_seq FROM number_series WHERE kind = 'credit_note' AND series = 'CN'"
        )
        == 2
    )
    sent_audits = await stack.db.fetchval(
        """SELECT count(*) FROM audit_events WHERE invoice_id = $1
               AND kind IN ('credit_note_issued', 'credit_note_sent')""",
        invoice_id,
    )
    assert sent_audits == 2


async def test_a_void_in_review_makes_no_credit_note(stack: Stack) -> None:
    client_id = await create_client(stack)
    await create_proposal(stack, client_id)
    _, sign_path = await proposal_email(stack)
    invoice_id = await sign_and_get_invoice(stack, sign_path)
    await wait_invoice_status(stack, invoice_id, "awaiting_review")
    await _void(stack, invoice_id, "client changed their mind")
    voided = await wait_invoice_status(stack, invoice_id, "void")
    handle = stack.env.client.get_workflow_handle(invoice_workflow_id(invoice_id))
    assert await handle.result() == "void"
    await release_time_skipping(stack.env)

    assert voided["number"] is None
    assert voided["credit_note_id"] is None and voided["credit_note_number"] is None
    assert await stack.db.fetchval("SELECT count(*) FROM credit_notes") == 0
    assert not [m for m in stack.mail.messages if _is_credit_note(m)]
    assert (await get_json(stack, "/api/v1/credit-notes"))["items"] == []
    assert (await stack.api.get(f"/api/v1/credit-notes/{invoice_id}")).status_code == 404


async def test_credit_notes_are_numbered_gapless_in_their_own_series(stack: Stack) -> None:
    first = await issued_invoice(stack, email="a@exemplu.ro")
    second = await issued_invoice(stack, email="b@exemplu.ro")
    year = date.fromisoformat(first["issue_date"]).year
    assert {first["number"], second["number"]} == {f"INV-{year}-00001", f"INV-{year}-00002"}

    # Both voided at once: each gets the next credit note number, none skipped or shared.
    for invoice in (first, second):
        await stack.env.client.get_workflow_handle(invoice_workflow_id(invoice["id"])).signal(
            InvoiceWorkflow.void, VoidInvoice("duplicate")
        )
    voided = [await _voided_with_credit_note(stack, inv["id"]) for inv in (first, second)]
    assert sorted(v["credit_note_number"] for v in voided) == [
        f"CN-{year}-00001",
        f"CN-{year}-00002",
    ]
    assert [v["number"] for v in voided] == [first["number"], second["number"]]
    for address in ("a@exemplu.ro", "b@exemplu.ro"):
        await _credit_note_email(stack, address)

    # The invoice series goes on where it was: credit notes took none of its numbers.
    third = await issued_invoice(stack, email="c@exemplu.ro")
    assert third["number"] == f"INV-{year}-00003"
    series = await get_json(stack, "/api/v1/number-series")
    next_numbers = {(s["kind"], s["series"]): s["next_seq"] for s in series["items"]}
    assert next_numbers[("credit_note", "CN")] == 3
    assert next_numbers[("invoice", "INV")] == 4


async def test_a_partly_paid_invoice_voided_gets_a_full_credit_note_and_the_money_is_flagged(
    stack: Stack,
) -> None:
    invoice = await issued_invoice(stack)
    invoice_id = invoice["id"]
    paid = await stack.api.post(
        f"/api/v1/invoices/{invoice_id}/payments",
        json={"amount": "1000.00", "paid_at": "2026-12-01", "reference": "OP-1"},
    )
    assert paid.json()["status"] == "partially_paid"
    await _void(stack, invoice_id, "anulată")
    message = await _credit_note_email(stack, "plati@exemplu.ro")
    voided = await _voided_with_credit_note(stack, invoice_id)

    # The credit note cancels the whole invoice; what was paid is shown as to be refunded.
    note = await get_json(stack, f"/api/v1/credit-notes/{voided['credit_note_id']}")
    assert note["total"] == "-4114.00"
    assert note["amount_received"] == "1000.00"
    pdf = pdf_text(attachment(message)[1])
    assert "-4.114,00 RON" in pdf
    assert "Suma de 1.000,00 RON încasată pe factura stornată vă va fi restituită." in pdf
    body = message.get_body(("plain",))
    assert body is not None and "1.000,00\xa0RON" in body.get_content()

    # The money stays recorded on the void invoice, with a task to give it back ...
    assert voided["amount_paid"] == "1000.00"
    tasks = await get_json(stack, f"/api/v1/tasks?invoice_id={invoice_id}")
    refund_tasks = [t for t in tasks["items"] if t.get("kind") == "refund_after_void"]
    assert len(refund_tasks) == 1 and "1000.00 RON" in refund_tasks[0]["title"]
    assert refund_tasks[0]["title"].endswith(f"credit note {note['number']}")

    # ... and the refund is the existing one, which a void invoice takes.
    refund = await stack.api.post(
        f"/api/v1/invoices/{invoice_id}/refunds",
        json={"payment_reference": "OP-1", "amount": "1000.00", "reference": "RF-1"},
    )
    assert refund.status_code == 201, refund.text
    assert refund.json()["status"] == "void"
    assert refund.json()["amount_paid"] == "0.00"


async def _issued_in(stack: Stack, email: str, locale: str) -> dict[str, Any]:
    """`issued_invoice` for a client reading another language than the helper's Romanian."""
    await create_proposal(stack, await create_client(stack, email=email, locale=locale))
    message = await stack.mail.wait_for(lambda m: m["To"] == email, timeout=20)
    body = message.get_body(("plain",))
    assert body is not None
    link = SIGN_LINK.search(body.get_content())
    assert link is not None
    invoice_id = await sign_and_get_invoice(stack, link.group(1))
    await wait_invoice_status(stack, invoice_id, "awaiting_review")
    approved = await stack.api.post(f"/api/v1/invoices/{invoice_id}/approve")
    assert approved.status_code == 202, approved.text
    return await wait_invoice_status(stack, invoice_id, "sent")


async def test_credit_note_pdf_in_russian_and_english(stack: Stack) -> None:
    ru = await _issued_in(stack, "oplata@primer.ru", "ru")
    en = await _issued_in(stack, "billing@example.com", "en")
    for invoice in (ru, en):
        await _void(stack, invoice["id"])

    ru_message = await _credit_note_email(stack, "oplata@primer.ru")
    ru_pdf = pdf_text(attachment(ru_message)[1])
    ru_note = (await _voided_with_credit_note(stack, ru["id"]))["credit_note_number"]
    assert f"Сторно № {ru_note}" in ru_pdf
    assert f"Сторно счёта на оплату № {ru['number']} от" in ru_pdf
    day, month = format_day(date.fromisoformat(ru["issue_date"]), "ru").split()[:2]
    assert f"№ {ru['number']} от {day} {month}" in ru_pdf
    assert "аннулирован; оплата по нему не требуется" in ru_pdf
    assert "-4 114,00 RON" in ru_pdf and "-714,00 RON" in ru_pdf
    assert "В том числе НДС (21%):" in ru_pdf
    assert "Всего по сторно: -4 114,00 RON" in ru_pdf and "Всего к оплате" not in ru_pdf
    assert "Минус четыре тысячи сто четырнадцать" in ru_pdf
    assert "Сторно" in ru_message["Subject"] and ru["number"] in ru_message["Subject"]

    en_message = await _credit_note_email(stack, "billing@example.com")
    en_pdf = pdf_text(attachment(en_message)[1])
    en_date = format_day(date.fromisoformat(en["issue_date"]), "en")
    en_note = (await _voided_with_credit_note(stack, en["id"]))["credit_note_number"]
    assert f"Credit note No. {en_note}" in en_pdf
    assert f"Invoice no. {en['number']} of {en_date}" in en_pdf
    assert "-RON4,114.00" in en_pdf and "-RON714.00" in en_pdf
    assert f"Credit note {en_note} for invoice {en['number']}" in en_message["Subject"]


def test_the_cli_lists_shows_and_downloads_credit_notes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("Q2C_API_KEY", "cli-key")
    monkeypatch.setenv("Q2C_API_URL", "http://q2c-cli.test")
    monkeypatch.setenv("Q2C_HOME", str(tmp_path / "state"))
    note = {
        "id": "6b1f2c3d-0000-4000-8000-000000000001",
        "number": "CN-2026-00001",
        "status": "sent",
        "issue_date": "2026-11-25",
        "invoice_id": "6b1f2c3d-0000-4000-8000-000000000002",
        "invoice_number": "INV-2026-00001",
        "invoice_issue_date": "2026-11-23",
        "currency": "RON",
        "total": "-4114.00",
        "lines": [
            {
                "description": "Consultanță juridică",
                "quantity": "-10",
                "unit": "h",
                "unit_price": "250.0000",
                "discount_percent": "0",
                "vat_rate": "21",
                "net_amount": "-2500.00",
            }
        ],
    }
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}?{request.url.query.decode()}")
        if request.url.path.endswith("/pdf"):
            return httpx.Response(200, content=b"%PDF-1.7 credit note")
        if request.url.path == "/api/v1/credit-notes":
            return httpx.Response(200, json={"items": [note]})
        return httpx.Response(200, json=note)

    transport = httpx.MockTransport(answer)
    invoice_id = note["invoice_id"]
    assert main(["credit-note", "list", "--invoice", str(invoice_id)], transport=transport) == 0
    listed = capsys.readouterr().out
    assert "CANCELS INVOICE" in listed
    assert "CN-2026-00001" in listed and "INV-2026-00001" in listed and "-4114.00" in listed

    assert main(["credit-notes", "show", str(note["id"])], transport=transport) == 0
    shown = capsys.readouterr().out
    assert "invoice number" in shown and "-2500" in shown

    target = tmp_path / "cn.pdf"
    assert (
        main(["credit-note", "pdf", str(note["id"]), "-o", str(target)], transport=transport) == 0
    )
    assert target.read_bytes() == b"%PDF-1.7 credit note"
    assert seen == [
        f"GET /api/v1/credit-notes?invoice_id={invoice_id}",
        f"GET /api/v1/credit-notes/{note['id']}?",
        f"GET /api/v1/credit-notes/{note['id']}/pdf?",
    ]


async def test_gross_prices_and_a_document_discount_are_reversed_to_the_cent(
    stack: Stack,
) -> None:
    client_id = await create_client(stack)
    await create_proposal(
        stack,
        client_id,
        prices_include_vat=True,
        discount_percent="5",
        lines=[
            {
                "description": "Ore",
                "quantity": "3",
                "unit": "h",
                "unit_price": "99.99",
                "vat_rate": "21",
            },
            {
                "description": "Cărți",
                "quantity": "2",
                "unit": "buc",
                "unit_price": "45.50",
                "vat_rate": "11",
                "vat_category": "reduced",
            },
        ],
    )
    _, sign_path = await proposal_email(stack)
    invoice_id = await sign_and_get_invoice(stack, sign_path)
    await wait_invoice_status(stack, invoice_id, "awaiting_review")
    assert (await stack.api.post(f"/api/v1/invoices/{invoice_id}/approve")).status_code == 202
    invoice = await wait_invoice_status(stack, invoice_id, "sent")
    # 21 %: 3 × 99.99 = 299.97 gross, less 5 % (15.00) = 284.97: VAT 49.46, base 235.51.
    # 11 %: 2 × 45.50 = 91.00 gross, less 5 % (4.55) = 86.45: VAT 8.57, base 77.88.
    assert (invoice["subtotal"], invoice["vat_total"], invoice["total"]) == (
        "313.39",
        "58.03",
        "371.42",
    )

    await _void(stack, invoice_id)
    message = await _credit_note_email(stack, "plati@exemplu.ro")
    voided = await _voided_with_credit_note(stack, invoice_id)
    note = await get_json(stack, f"/api/v1/credit-notes/{voided['credit_note_id']}")
    assert (note["subtotal"], note["vat_total"], note["total"]) == (
        "-313.39",
        "-58.03",
        "-371.42",
    )
    assert [(g["rate"], g["category"], g["base"], g["vat"]) for g in note["vat_groups"]] == [
        ("21", "standard", "-235.51", "-49.46"),
        ("11", "reduced", "-77.88", "-8.57"),
    ]
    pdf = pdf_text(attachment(message)[1])
    assert "Cota 21% -235,51 RON -49,46 RON" in pdf
    assert "Cota 11% -77,88 RON -8,57 RON" in pdf
    assert "Total -313,39 RON -58,03 RON" in pdf
    assert "-371,42 RON" in pdf
    # The lines before the discount (net of VAT: 247.91 + 81.98) and the discount reversed.
    assert "-329,89 RON" in pdf and "16,50 RON" in pdf
