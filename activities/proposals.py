"""Proposal activities: send it with its signing link, accept it, close it."""

from __future__ import annotations

import hashlib

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.documents import document_context, store_document
from activities.events import emit_proposal
from activities.mail import Attachment, OutgoingEmail
from activities.services import Services, business_errors
from db import invoices, outbox, proposals, signatures, store
from db.rows import ProposalRow
from domain.i18n import format_day, pick_locale
from domain.schedule import local_date, overdue_at
from domain.status import ProposalStatus
from messages import activity_names as names
from messages.models import AcceptProposalInput, CloseProposalInput, ProposalRef, ProposalSent


class ProposalActivities:
    def __init__(self, services: Services) -> None:
        self._s = services

    @activity.defn(name=names.SEND_PROPOSAL)
    async def send_proposal(self, ref: ProposalRef) -> ProposalSent:
        pool, key = self._s.pool, f"proposal:{ref.proposal_id}:proposal:1"
        async with business_errors(), pool.acquire() as conn:
            proposal = await store.proposal(conn, ref.proposal_id)
            seller = await store.company(conn, proposal.company_id)
            # Signable through the whole last day of validity, where the seller is.
            expires_at = overdue_at(proposal.valid_until, seller.time_zone)
            if proposal.status != ProposalStatus.SENT:
                return ProposalSent(proposal.status, expires_at)
            if not await outbox.is_queued(conn, key):
                if proposal.number is None:
                    # The operator's send is the proposal's approval: it takes its number
                    # now, in one transaction under the series' lock, before the PDF that
                    # prints it. A retry or a resend finds the number and keeps it.
                    async with conn.transaction():
                        locked = await store.proposal(conn, proposal.id, lock=True)
                        if locked.number is None:
                            sent_on = local_date(activity.info().started_time, seller.time_zone)
                            series = seller.proposal_series
                            await proposals.set_number(
                                conn,
                                proposal.id,
                                series=series,
                                number=await store.assign_number(
                                    conn, proposal.company_id, "proposal", series, sent_on.year
                                ),
                                issue_date=sent_on,
                            )
                    proposal = await store.proposal(conn, proposal.id)
                document_key = await self._render(conn, proposal)
                buyer = await store.client(conn, proposal.client_id)
                locale = pick_locale(buyer.locale)
                async with conn.transaction():
                    token = await store.new_access_token(
                        conn, "sign", expires_at, proposal_id=proposal.id
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
                            idempotency_key=key,
                            kind="proposal",
                            to_address=buyer.email,
                            subject=subject,
                            body_text=body,
                            proposal_id=str(proposal.id),
                            attachments=(Attachment(document_key, "proposal.pdf"),),
                        ),
                    )
                    await store.audit(
                        conn,
                        "sent",
                        "system",
                        activity.info().started_time,
                        proposal_id=proposal.id,
                    )
                    await emit_proposal(
                        conn, "proposal.sent", proposal.id, at=activity.info().started_time
                    )
        if await self._s.mailer.deliver(pool, key):
            async with pool.acquire() as conn:
                await store.audit(
                    conn,
                    "email_accepted",
                    "smtp",
                    activity.info().started_time,
                    proposal_id=ref.proposal_id,
                )
        async with pool.acquire() as conn:
            await proposals.mark_emailed_from_outbox(conn, ref.proposal_id, key)
        return ProposalSent(ProposalStatus.SENT.value, expires_at)

    async def _render(self, conn: store.Connection, proposal: ProposalRow) -> str:
        if proposal.document_key:
            return str(proposal.document_key)
        line_rows = await store.lines(conn, "proposal_lines", "proposal_id", proposal.id)
        context = await document_context(conn, proposal, line_rows, "proposal")
        pdf = await self._s.renderer.render_pdf("pdf/proposal.html", context)
        stored = await store_document(conn, f"proposal/{proposal.id}.pdf", pdf)
        await proposals.set_document(conn, proposal.id, stored.key)
        return stored.key

    @activity.defn(name=names.ACCEPT_PROPOSAL)
    async def accept_proposal(self, accept: AcceptProposalInput) -> str:
        """Record the signature and create the draft invoice, all in one transaction."""
        signature = accept.signature
        consent_sha256 = hashlib.sha256(signature.consent_text.encode()).hexdigest()
        async with business_errors(), self._s.pool.acquire() as conn, conn.transaction():
            proposal = await store.proposal(conn, accept.proposal_id, lock=True)
            if proposal.invoice_id is not None:
                return str(proposal.invoice_id)
            if proposal.status != ProposalStatus.SENT:
                raise ApplicationError(
                    f"the proposal is {proposal.status} and can no longer be signed",
                    type="IllegalTransition",
                    non_retryable=True,
                )
            await signatures.insert(
                conn,
                proposal_id=proposal.id,
                signer_name=signature.signer_name,
                signer_email=signature.signer_email,
                signed_at=signature.signed_at,
                ip=signature.ip,
                user_agent=signature.user_agent,
                document_sha256=signature.document_sha256,
                consent_text=signature.consent_text,
                consent_sha256=consent_sha256,
                source=signature.source,
                signature_image_key=signature.signature_image_key or None,
            )
            seller = await store.company(conn, proposal.company_id)
            invoice_id = await invoices.create_draft_from_proposal(
                conn, proposal, seller.invoice_series
            )
            await proposals.mark_signed(
                conn, proposal.id, signed_at=signature.signed_at, invoice_id=invoice_id
            )
            await store.audit(
                conn,
                "signed",
                signature.signer_name,
                signature.signed_at,
                proposal_id=proposal.id,
                ip=signature.ip,
                user_agent=signature.user_agent,
                data={
                    "signer_email": signature.signer_email,
                    "source": signature.source,
                    "document_sha256": signature.document_sha256,
                    "consent_text": signature.consent_text,
                    "consent_sha256": consent_sha256,
                },
            )
            await store.audit(
                conn,
                "invoice_created",
                "system",
                signature.signed_at,
                proposal_id=proposal.id,
                data={"invoice_id": str(invoice_id)},
            )
            await emit_proposal(conn, "proposal.signed", proposal.id, at=signature.signed_at)
            return str(invoice_id)

    @activity.defn(name=names.CLOSE_PROPOSAL)
    async def close_proposal(self, close: CloseProposalInput) -> None:
        status = ProposalStatus(close.status)
        mark_closed = {
            ProposalStatus.DECLINED: proposals.mark_declined,
            ProposalStatus.EXPIRED: proposals.mark_expired,
        }[status]
        async with business_errors(), self._s.pool.acquire() as conn, conn.transaction():
            proposal = await store.proposal(conn, close.proposal_id, lock=True)
            if proposal.status != ProposalStatus.SENT:
                return
            await mark_closed(conn, proposal.id, at=close.at, reason=close.reason or None)
            await store.audit(
                conn,
                status.value,
                "system" if status == ProposalStatus.EXPIRED else "client",
                close.at,
                proposal_id=proposal.id,
                ip=close.ip,
                user_agent=close.user_agent,
                data={"reason": close.reason} if close.reason else None,
            )
            await emit_proposal(conn, f"proposal.{status.value}", proposal.id, at=close.at)
