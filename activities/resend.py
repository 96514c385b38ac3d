"""Send again (issue 15): an issued invoice or a sent proposal emailed once more, with the
same PDF and number and a fresh link, under an outbox key of its own per resend
(`invoice:<id>:resend:<key>` / `proposal:<id>:resend:<key>`), recorded as `resent` in the
document's audit chain with the operator and the address. Nothing else changes: status,
due date and reminder plan stay as they are (workflows.resend runs it beside the
document's own workflow)."""

from __future__ import annotations

from datetime import datetime

from temporalio import activity

from activities.documents import parties_for
from activities.invoice_base import InvoiceActivityBase
from activities.mail import Attachment, OutgoingEmail
from activities.services import business_errors
from db import invoices, operators, outbox, proposals, store
from domain.i18n import format_day, format_money, pick_locale
from domain.operators import Action
from domain.schedule import overdue_at
from domain.status import IllegalTransition, InvoiceStatus, ProposalStatus
from messages import activity_names as names
from messages.models import ResendInput, ResendResult

# An invoice is sent again once issued (numbered, its final PDF stored), until voided.
RESENDABLE_INVOICE = frozenset(
    {
        InvoiceStatus.SENT,
        InvoiceStatus.PARTIALLY_PAID,
        InvoiceStatus.PAID,
        InvoiceStatus.OVERDUE,
    }
)


def invoice_refusal(status: str, number: str | None, document_key: str | None) -> str | None:
    """Why this invoice cannot be sent again, or None."""
    if InvoiceStatus(status) not in RESENDABLE_INVOICE:
        return f"the invoice is {status}: only an issued invoice that is not void is sent again"
    if number is None or document_key is None:
        return "the invoice has no final PDF yet"
    return None


def proposal_refusal(status: str, number: str | None, document_key: str | None) -> str | None:
    """Why this proposal cannot be sent again, or None: only one waiting for its client."""
    if status != ProposalStatus.SENT:
        return f"the proposal is {status}: only a sent proposal awaiting its answer is sent again"
    if number is None or document_key is None:
        # Its workflow is still rendering the first email's PDF.
        return "the proposal's first email has not gone out yet"
    return None


def outbox_key_for(kind: str, document_id: str, key: str) -> str:
    return f"{kind}:{document_id}:resend:{key}"


class ResendActivities(InvoiceActivityBase):
    @activity.defn(name=names.RESEND_DOCUMENT)
    async def resend_document(self, request: ResendInput) -> ResendResult:
        """Queue (once per key, with its audit event) and deliver; a retry after the row was
        queued only finishes the delivery, and one after it was sent sends nothing."""
        at = request.at or activity.info().started_time
        async with business_errors(), self._s.pool.acquire() as conn:
            async with conn.transaction():
                if not await outbox.is_queued(conn, request.outbox_key):
                    if request.kind == "invoice":
                        await self._queue_invoice(conn, request, at)
                    elif request.kind == "proposal":
                        await self._queue_proposal(conn, request, at)
                    else:
                        raise IllegalTransition(f"nothing of kind {request.kind!r} is resent")
            await self._s.mailer.deliver_on(conn, request.outbox_key, pool=self._s.pool)
        return ResendResult(request.to_address, request.outbox_key, sent=True)

    async def _queue_invoice(
        self, conn: store.Connection, request: ResendInput, at: datetime
    ) -> None:
        # Under the row lock: a void committed first refuses the resend.
        row = await invoices.get(conn, request.document_id, lock=True)
        refusal = invoice_refusal(row.status, row.number, row.document_key)
        if refusal is not None:
            raise IllegalTransition(refusal)
        assert row.due_date is not None and row.document_key is not None  # issued
        # The parties as issued: the email names what the attached PDF names.
        seller, buyer, _ = await parties_for(conn, row)
        locale = pick_locale(buyer.locale)
        currency = row.currency.strip()
        # The same email as the first (templates/email/invoice), with a link of its own.
        subject, body = self._s.renderer.email(
            "invoice",
            locale,
            seller=seller,
            buyer=buyer,
            number=row.number,
            total=format_money(row.total, currency, locale),
            due_date=format_day(row.due_date, locale),
            invoice_url=await self._hosted_link(conn, row.id, at),
        )
        await self._s.mailer.enqueue(
            conn,
            OutgoingEmail(
                idempotency_key=request.outbox_key,
                kind="invoice_resend",
                to_address=request.to_address,
                subject=subject,
                body_text=body,
                invoice_id=str(row.id),
                attachments=(Attachment(row.document_key, f"{row.number}.pdf"),),
            ),
        )
        actor = await operators.take_request(conn, request.request_id, Action.RESEND, str(row.id))
        await store.audit(
            conn,
            "resent",
            actor,
            at,
            invoice_id=row.id,
            data={"to": request.to_address, "outbox_key": request.outbox_key},
        )

    async def _queue_proposal(
        self, conn: store.Connection, request: ResendInput, at: datetime
    ) -> None:
        # Under the row lock: a signature, decline or conversion committed first refuses it.
        proposal = await proposals.get(conn, request.document_id, lock=True)
        refusal = proposal_refusal(proposal.status, proposal.number, proposal.document_key)
        if refusal is not None:
            raise IllegalTransition(refusal)
        assert proposal.document_key is not None
        # The parties as sent: the email names what the attached PDF names.
        seller, buyer, _ = await parties_for(conn, proposal)
        locale = pick_locale(buyer.locale)
        # A new signing link, valid as the first one: through the last day of validity.
        token = await store.new_access_token(
            conn,
            "sign",
            overdue_at(proposal.valid_until, seller.time_zone),
            proposal_id=proposal.id,
        )
        subject, body = self._s.renderer.email(
            "proposal",
            locale,
            seller=seller,
            buyer=buyer,
            sign_url=f"{self._s.public_url}/sign/{token}",
            valid_until=format_day(proposal.valid_until, locale),
            number=proposal.number,
        )
        await self._s.mailer.enqueue(
            conn,
            OutgoingEmail(
                idempotency_key=request.outbox_key,
                kind="proposal_resend",
                to_address=request.to_address,
                subject=subject,
                body_text=body,
                proposal_id=str(proposal.id),
                attachments=(Attachment(proposal.document_key, "proposal.pdf"),),
            ),
        )
        actor = await operators.take_request(
            conn, request.request_id, Action.RESEND, str(proposal.id)
        )
        await store.audit(
            conn,
            "resent",
            actor,
            at,
            proposal_id=proposal.id,
            data={"to": request.to_address, "outbox_key": request.outbox_key},
        )
