"""RO e-Factura: the issued document as CIUS-RO XML, checked at approval, and its
submission to ANAF's SPV (the steps of workflows.efactura).

The XML is built from what is stored (domain.efactura.build_xml) and validated with the
official rules (activities.efactura_rules). An invoice's is built with the number it would
take and validated before that number is taken; once numbered, the same XML is stored
(`efactura/invoice/<id>.xml`), so what is uploaded is exactly what was checked. A credit
note's is stored when it is issued. Only a Romanian seller's documents go to ANAF.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import xml.etree.ElementTree as ElementTree
import zipfile
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from temporalio import activity

from activities import efactura_rules
from activities.anaf_client import (
    AnafClient,
    AnafNotConnected,
    AnafRefused,
    Standard,
    UploadState,
)
from activities.documents import parties_for, store_document
from activities.efactura_access import EfacturaAccess
from activities.events import emit_task_created
from activities.services import Services, business_errors
from db import (
    companies,
    contracts,
    credit_notes,
    documents,
    efactura,
    invoices,
    store,
    tasks,
)
from db.rows import (
    ClientRow,
    CompanyRow,
    CreditNoteRow,
    EfacturaSubmissionRow,
    InvoiceLineRow,
    InvoiceRow,
)
from domain.efactura import (
    DocumentKind,
    EfacturaAddress,
    EfacturaDocument,
    EfacturaError,
    EfacturaLine,
    EfacturaParty,
    build_xml,
)
from domain.errors import InvalidInput
from domain.vat import VatCategory
from messages import activity_names as names
from messages.models import (
    EfacturaPrepared,
    EfacturaProgress,
    EfacturaRef,
    EfacturaSubmissionInput,
)

log = logging.getLogger("q2c.efactura")

XML_TYPE = "application/xml"
ZIP_TYPE = "application/zip"
# A lost upload (worker died between the upload and recording its index) is looked for in
# ANAF's messages this long after it started before it is uploaded again.
SEARCH_WINDOW = timedelta(minutes=30)
# How far back ANAF's message list is read when looking for a lost upload.
MESSAGE_DAYS = 10
# At most this many broken rules are quoted in an approval error or a task.
QUOTED_RULES = 20
_CUI = re.compile(r"^(RO)?\s*([0-9]{2,10})$", re.IGNORECASE)


def required_for(seller: CompanyRow) -> bool:
    """Only a Romanian seller's documents are reported to ANAF."""
    return seller.country.strip().upper() == "RO"


def xml_key(kind: str, document_id: object) -> str:
    return f"efactura/{kind}/{document_id}.xml"


def answer_key(kind: str, document_id: object) -> str:
    return f"efactura/{kind}/{document_id}-answer.zip"


def cif_of(tax_id: str) -> str:
    """The CIF ANAF's API takes: the CUI's digits, without the RO prefix."""
    match = _CUI.match(tax_id.strip())
    if match is None:
        raise EfacturaError(f"tax_id: {tax_id!r} is not a Romanian CUI")
    return match.group(2)


# --- the document --------------------------------------------------------------------


def _address(party: CompanyRow | ClientRow) -> EfacturaAddress:
    return EfacturaAddress(
        street=party.street,
        city=party.city,
        postal_code=party.postal_code,
        county=party.county,
        country=party.country,
    )


def _seller(seller: CompanyRow, bank: dict[str, str]) -> EfacturaParty:
    return EfacturaParty(
        name=seller.name,
        tax_id=seller.tax_id,
        vat_id=seller.vat_id,
        registration_number=seller.registration_number,
        address=_address(seller),
        email=seller.email,
        phone=seller.phone,
        iban=bank.get("iban", ""),
        bank_name=bank.get("bank_name", ""),
    )


def _buyer(buyer: ClientRow) -> EfacturaParty:
    return EfacturaParty(
        name=buyer.name,
        tax_id=buyer.tax_id,
        vat_id=buyer.vat_id,
        registration_number=buyer.registration_number,
        address=_address(buyer),
        email=buyer.email,
    )


def _lines(rows: Sequence[InvoiceLineRow]) -> tuple[EfacturaLine, ...]:
    return tuple(
        EfacturaLine(
            description=row.description,
            quantity=row.quantity,
            unit=row.unit,
            unit_price=row.unit_price,
            discount_percent=row.discount_percent,
            vat_rate=row.vat_rate,
            vat_category=VatCategory(row.vat_category) if row.vat_category else None,
            legal_basis=row.vat_legal_basis,
            net_amount=row.net_amount,
        )
        for row in rows
    )


async def invoice_document(
    conn: store.Connection,
    invoice: InvoiceRow,
    *,
    kind: DocumentKind = DocumentKind.INVOICE,
    number: str | None = None,
    issue_date: date | None = None,
    due_date: date | None = None,
    credit_note: CreditNoteRow | None = None,
) -> EfacturaDocument:
    """The invoice as CIUS-RO sees it: its number and dates as given (at approval: the ones
    it is about to take), else the stored ones. With `credit_note`: that note, which cancels
    the invoice: the invoice's lines and amounts (positive), its number and date referenced."""
    # The parties as issued (the credit note's own once it has them), else the live rows.
    issued = credit_note if credit_note is not None and credit_note.issued_parties else invoice
    seller, buyer, bank = await parties_for(conn, issued)
    currency = invoice.currency.strip()
    line_rows = await store.lines(conn, "invoice_lines", "invoice_id", invoice.id)
    reference = ""
    if invoice.contract_id is not None:
        contract = await contracts.find(conn, invoice.contract_id)
        if contract is not None:
            reference = contract.number or contract.subject
    billing_number, billing_date = "", None
    if credit_note is not None:
        kind = DocumentKind.CREDIT_NOTE
        number, issue_date, due_date = credit_note.number, credit_note.issue_date, None
        billing_number, billing_date = credit_note.original_number, credit_note.original_issue_date
    number = number if number is not None else invoice.number
    issue_date = issue_date if issue_date is not None else invoice.issue_date
    if number is None or issue_date is None:
        raise EfacturaError("number: the invoice is not issued")
    return EfacturaDocument(
        kind=kind,
        number=number,
        issue_date=issue_date,
        due_date=due_date if due_date is not None else invoice.due_date,
        currency=currency,
        exchange_rate=invoice.exchange_rate,
        seller=_seller(seller, bank),
        buyer=_buyer(buyer),
        lines=_lines(line_rows),
        prices_include_vat=invoice.prices_include_vat,
        discount_percent=invoice.discount_percent or Decimal(0),
        subtotal=invoice.subtotal,
        vat_total=invoice.vat_total,
        total=invoice.total,
        contract_reference=reference,
        notes=invoice.notes or "",
        billing_reference_number=billing_number,
        billing_reference_date=billing_date,
    )


class EfacturaRefused(InvalidInput):
    """The document breaks rules of CIUS-RO that ANAF checks: the message lists them."""


def refusal(failures: Sequence[efactura_rules.RuleFailure]) -> str:
    quoted = "; ".join(str(failure) for failure in failures[:QUOTED_RULES])
    more = len(failures) - QUOTED_RULES
    return f"e-Factura: {quoted}" + (f"; and {more} more" if more > 0 else "")


async def checked_xml(document: EfacturaDocument) -> bytes:
    """The document's XML, refused (EfacturaRefused, EfacturaError) unless it passes every
    fatal rule of CIUS-RO."""
    try:
        xml = build_xml(document)
    except EfacturaError as bad:
        raise EfacturaError(f"e-Factura: {bad}") from bad
    broken = efactura_rules.fatal(await efactura_rules.validate_async(xml))
    if broken:
        raise EfacturaRefused(refusal(broken))
    return xml


async def store_prepared(
    conn: store.Connection,
    kind: Literal["invoice", "credit_note"],
    document_id: object,
    company_id: object,
    xml: bytes,
    issued_at: datetime,
) -> EfacturaSubmissionRow:
    """The XML stored and the document's submission made pending (in the caller's
    transaction: the one that numbers the document)."""
    stored = await store_document(conn, xml_key(kind, document_id), xml, XML_TYPE)
    return await efactura.put_prepared(
        conn,
        kind,
        document_id,
        company_id=company_id,
        status="pending",
        xml_key=stored.key,
        xml_sha256=stored.sha256,
        issued_at=issued_at,
    )


async def mark_not_required(
    conn: store.Connection,
    kind: Literal["invoice", "credit_note"],
    document_id: object,
    company_id: object,
    issued_at: datetime,
) -> None:
    await efactura.put_prepared(
        conn,
        kind,
        document_id,
        company_id=company_id,
        status="not_required",
        xml_key=None,
        xml_sha256="",
        issued_at=issued_at,
    )


async def prepare_credit_note(
    conn: store.Connection, invoice: InvoiceRow, note: CreditNoteRow, at: datetime
) -> None:
    """Build and store the credit note's XML (in the transaction that issues it). The
    invoice passed the rules at approval, so its credit note should too; one that does not
    is still issued (the void stands) and its submission is rejected with the reason, for
    an operator to see."""
    seller = await companies.get(conn, invoice.company_id)
    if not required_for(seller):
        await mark_not_required(conn, "credit_note", note.id, seller.id, at)
        return
    document = await invoice_document(conn, invoice, credit_note=note)
    try:
        xml = await checked_xml(document)
    except InvalidInput as refused:
        log.warning("credit note %s: its e-Factura XML is refused: %s", note.number, refused)
        row = await efactura.put_prepared(
            conn,
            "credit_note",
            note.id,
            company_id=seller.id,
            status="pending",
            xml_key=None,
            xml_sha256="",
            issued_at=at,
        )
        await efactura.record_answer(
            conn,
            row.id,
            status="rejected",
            download_id=None,
            errors=[str(refused)],
            answer_key=None,
            at=at,
        )
        return
    await store_prepared(conn, "credit_note", note.id, seller.id, xml, at)


# --- ANAF's answers --------------------------------------------------------------------


def answer_errors(answer: bytes) -> list[str]:
    """The error messages of ANAF's answer zip (its `Error errorMessage=...` entries)."""
    errors: list[str] = []
    try:
        archive = zipfile.ZipFile(io.BytesIO(answer))
    except zipfile.BadZipFile:
        return ["ANAF's answer is not a zip"]
    with archive:
        for name in archive.namelist():
            if not name.lower().endswith(".xml"):
                continue
            try:
                root = ElementTree.fromstring(archive.read(name))
            except ElementTree.ParseError:
                continue
            for element in root.iter():
                if element.tag.rsplit("}", 1)[-1] == "Error":
                    message = element.get("errorMessage", "").strip()
                    if message:
                        errors.append(message)
    return errors


def holds_document(answer: bytes, sha256: str) -> bool:
    """Whether ANAF's answer zip holds the XML whose SHA-256 is `sha256`."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(answer))
    except zipfile.BadZipFile:
        return False
    with archive:
        return any(
            hashlib.sha256(archive.read(name)).hexdigest() == sha256 for name in archive.namelist()
        )


# --- the submission's steps --------------------------------------------------------------

_KIND_TASKS: dict[str, tuple[tasks.OnceTaskKind, tasks.OnceTaskKind]] = {
    "invoice": ("efactura_rejected", "efactura_deadline"),
    "credit_note": ("efactura_credit_note_rejected", "efactura_credit_note_deadline"),
}


class EfacturaActivities:
    """The submission's steps. `access` gives a company's ANAF client (None: submission is
    off, Settings.efactura_url is None)."""

    def __init__(self, services: Services, access: EfacturaAccess | None) -> None:
        self._s = services
        self._access = access

    async def _client(self, company_id: object) -> AnafClient:
        if self._access is None:
            raise AnafNotConnected("e-Factura submission is off")
        return await self._access.client_for(company_id)

    @activity.defn(name=names.EFACTURA_PREPARE)
    async def efactura_prepare(self, ref: EfacturaRef) -> EfacturaPrepared:
        """Whether the document's submission is to be started: a Romanian seller's document
        with its XML stored, and submission on."""
        async with business_errors(), self._s.pool.acquire() as conn:
            row = await efactura.get(conn, ref.kind, ref.document_id)
            if row is None or row.status == "not_required" or self._access is None:
                return EfacturaPrepared(start=False)
            number = await self._number(conn, row)
            return EfacturaPrepared(
                start=True,
                submission=EfacturaSubmissionInput(
                    ref.kind, ref.document_id, row.issued_at, number
                ),
            )

    @activity.defn(name=names.EFACTURA_UPLOAD)
    async def efactura_upload(self, ref: EfacturaRef) -> EfacturaProgress:
        async with business_errors(), self._s.pool.acquire() as conn:
            row = await efactura.get(conn, ref.kind, ref.document_id)
            if row is None:
                return EfacturaProgress("not_required")
            if row.status != "pending" or row.xml_key is None:
                return EfacturaProgress(row.status, row.upload_index)
            try:
                return await self._upload(conn, row, ref.at)
            except AnafNotConnected:
                await self._open_task(
                    conn,
                    row,
                    "efactura_not_connected",
                    "Connect q2c to ANAF (q2c efactura connect): e-Factura documents wait "
                    "to be uploaded",
                    ref.at,
                )
                return EfacturaProgress("pending", not_connected=True)

    async def _upload(
        self, conn: store.Connection, row: EfacturaSubmissionRow, at: datetime
    ) -> EfacturaProgress:
        """Upload the stored XML, unless an upload of it whose answer was lost is found in
        ANAF's messages first (or may still appear there: then wait)."""
        assert row.xml_key is not None
        seller = await companies.get(conn, row.company_id)
        client = await self._client(seller.id)
        stored = await documents.content_of(conn, row.xml_key)
        assert stored is not None, "a submission's XML is stored with it"
        cif = cif_of(seller.tax_id)
        if row.upload_started_at is not None:
            found = await self._find_upload(client, cif, row.xml_sha256)
            if found is not None:
                return await self._uploaded(conn, row, found, at, found_again=True)
            if at - row.upload_started_at < SEARCH_WINDOW:
                return EfacturaProgress("pending", searching=True)
            await store.audit(
                conn,
                "efactura_upload_repeated",
                "system",
                at,
                invoice_id=await self._invoice_id(conn, row),
                data={"kind": row.document_kind, "started_at": row.upload_started_at},
            )
        # The buyer as the XML names it (the document's issued parties).
        _, buyer, _ = await parties_for(conn, await self._document(conn, row))
        async with conn.transaction():
            await efactura.record_intent(conn, row.id, at)
        standard: Standard = "CN" if row.document_kind == "credit_note" else "UBL"
        try:
            index = await client.upload(
                stored.content,
                cif=cif,
                standard=standard,
                b2c=not buyer.tax_id.strip(),
                foreign_buyer=buyer.country.strip().upper() != "RO",
            )
        except AnafNotConnected:
            raise
        except AnafRefused as refused:
            answered = await self._answered(conn, row, "rejected", None, [str(refused)], None, at)
            return EfacturaProgress(answered.status)
        return await self._uploaded(conn, row, index, at, found_again=False)

    @activity.defn(name=names.EFACTURA_POLL)
    async def efactura_poll(self, ref: EfacturaRef) -> EfacturaProgress:
        async with business_errors(), self._s.pool.acquire() as conn:
            row = await efactura.get(conn, ref.kind, ref.document_id)
            if row is None:
                return EfacturaProgress("not_required")
            if row.status != "uploaded" or row.upload_index is None:
                return EfacturaProgress(row.status, row.upload_index)
            try:
                return await self._poll(conn, row, ref.at)
            except AnafNotConnected:
                return EfacturaProgress(row.status, row.upload_index, not_connected=True)

    async def _poll(
        self, conn: store.Connection, row: EfacturaSubmissionRow, at: datetime
    ) -> EfacturaProgress:
        """ANAF's status of the upload; its answer downloaded and stored once it has one."""
        assert row.upload_index is not None
        client = await self._client(row.company_id)
        status = await client.status(row.upload_index)
        if status.state == UploadState.PROCESSING:
            return EfacturaProgress(row.status, row.upload_index)
        if status.state == UploadState.INVALID or status.download_id is None:
            errors = list(status.errors) or [status.state.value]
            answered = await self._answered(conn, row, "rejected", None, errors, None, at)
            return EfacturaProgress(answered.status, answered.upload_index)
        answer = await client.download(status.download_id)
        accepted = status.state == UploadState.OK
        errors = [] if accepted else (answer_errors(answer) or list(status.errors))
        answered = await self._answered(
            conn,
            row,
            "accepted" if accepted else "rejected",
            status.download_id,
            errors,
            answer,
            at,
        )
        return EfacturaProgress(answered.status, answered.upload_index)

    @activity.defn(name=names.EFACTURA_DEADLINE)
    async def efactura_deadline(self, ref: EfacturaRef) -> None:
        """Four days after issue: a task unless ANAF accepted the document (the legal
        deadline is the fifth day)."""
        async with business_errors(), self._s.pool.acquire() as conn:
            row = await efactura.get(conn, ref.kind, ref.document_id)
            if row is None or row.status in ("accepted", "not_required"):
                return
            number = await self._number(conn, row)
            last_day = (row.issued_at + timedelta(days=5)).date()
            what = "credit note" if row.document_kind == "credit_note" else "invoice"
            await self._open_task(
                conn,
                row,
                _KIND_TASKS[row.document_kind][1],
                f"e-Factura: {what} {number} is not accepted by ANAF yet ({row.status}); "
                f"it must be reported by {last_day.isoformat()}",
                ref.at,
                due_date=last_day,
            )

    # --- helpers ---------------------------------------------------------------------

    async def _find_upload(self, client: AnafClient, cif: str, sha256: str) -> str | None:
        """The index of an upload of this very XML that ANAF reports as sent, if any."""
        for message in await client.messages(cif, MESSAGE_DAYS):
            if message.kind != "FACTURA TRIMISA":
                continue
            try:
                answer = await client.download(message.download_id)
            except AnafRefused:
                continue
            if holds_document(answer, sha256):
                return message.upload_index
        return None

    async def _uploaded(
        self,
        conn: store.Connection,
        row: EfacturaSubmissionRow,
        index: str,
        at: datetime,
        *,
        found_again: bool,
    ) -> EfacturaProgress:
        async with conn.transaction():
            updated = await efactura.record_upload(conn, row.id, index, at)
            await store.audit(
                conn,
                "efactura_uploaded",
                "system",
                at,
                invoice_id=await self._invoice_id(conn, row),
                data={"kind": row.document_kind, "upload_index": index, "found_again": found_again},
            )
            # Uploading worked: whatever said q2c was not connected is out of date.
            await tasks.close_automatic_task(
                conn, await self._invoice_id(conn, row), "efactura_not_connected"
            )
        return EfacturaProgress(updated.status, updated.upload_index)

    async def _answered(
        self,
        conn: store.Connection,
        row: EfacturaSubmissionRow,
        status: Literal["accepted", "rejected"],
        download_id: str | None,
        errors: list[str],
        answer: bytes | None,
        at: datetime,
    ) -> EfacturaSubmissionRow:
        async with conn.transaction():
            key = None
            if answer is not None:
                stored = await store_document(
                    conn, answer_key(row.document_kind, row.document_id), answer, ZIP_TYPE
                )
                key = stored.key
            updated = await efactura.record_answer(
                conn,
                row.id,
                status=status,
                download_id=download_id,
                errors=errors,
                answer_key=key,
                at=at,
            )
            invoice_id = await self._invoice_id(conn, row)
            await store.audit(
                conn,
                f"efactura_{status}",
                "anaf",
                at,
                invoice_id=invoice_id,
                data={
                    "kind": row.document_kind,
                    "upload_index": row.upload_index,
                    "download_id": download_id,
                    "errors": errors[:QUOTED_RULES],
                },
            )
            if status == "accepted":
                await tasks.close_automatic_task(
                    conn, invoice_id, _KIND_TASKS[row.document_kind][1]
                )
            if status == "rejected":
                number = await self._number(conn, row)
                what = "credit note" if row.document_kind == "credit_note" else "invoice"
                listed = "; ".join(errors[:QUOTED_RULES])
                await self._open_task(
                    conn,
                    row,
                    _KIND_TASKS[row.document_kind][0],
                    f"e-Factura: ANAF rejected {what} {number}: {listed}"[:1000],
                    at,
                )
        return updated

    async def _open_task(
        self,
        conn: store.Connection,
        row: EfacturaSubmissionRow,
        kind: tasks.OnceTaskKind,
        title: str,
        at: datetime,
        *,
        due_date: date | None = None,
    ) -> None:
        invoice = await invoices.get(conn, await self._invoice_id(conn, row))
        await tasks.open_task_once(
            conn,
            kind,
            company_id=invoice.company_id,
            invoice_id=invoice.id,
            client_id=invoice.client_id,
            title=title,
            due_date=due_date or at.date(),
        )
        await emit_task_created(conn, invoice_id=invoice.id, kind=kind)

    async def _document(
        self, conn: store.Connection, row: EfacturaSubmissionRow
    ) -> InvoiceRow | CreditNoteRow:
        if row.document_kind == "credit_note":
            return await credit_notes.get(conn, row.document_id)
        return await invoices.get(conn, row.document_id)

    async def _invoice_id(self, conn: store.Connection, row: EfacturaSubmissionRow) -> object:
        if row.document_kind == "credit_note":
            note = await credit_notes.get(conn, row.document_id)
            return note.invoice_id
        return row.document_id

    async def _number(self, conn: store.Connection, row: EfacturaSubmissionRow) -> str:
        if row.document_kind == "credit_note":
            return (await credit_notes.get(conn, row.document_id)).number
        return (await invoices.get(conn, row.document_id)).number or ""
