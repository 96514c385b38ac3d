"""Proposal activities: send it with its signing link, accept it, close it."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.documents import as_issued, document_context, live_parties, store_document
from activities.events import emit_proposal
from activities.mail import Attachment, OutgoingEmail
from activities.services import Services, business_errors
from db import (
    clients,
    companies,
    documents,
    invoices,
    operators,
    outbox,
    proposals,
    signatures,
    signing,
    snapshots,
    store,
    ui_views,
)
from db.rows import ClientRow, CompanyRow, ProposalAnswerRow, ProposalRow
from domain import answers, followups
from domain.i18n import format_day, pick_locale
from domain.operators import Action
from domain.schedule import local_date, overdue_at
from domain.status import IllegalTransition, ProposalStatus
from messages import activity_names as names
from messages.models import (
    AcceptProposalInput,
    CloseProposalInput,
    ConvertProposalInput,
    FollowupInput,
    FollowupPlan,
    FollowupStep,
    PlanFollowupsInput,
    ProposalRef,
    ProposalSent,
    SignProposal,
)
from workflows.proposal import ANSWER_REFUSED


class ProposalActivities:
    def __init__(self, services: Services) -> None:
        self._s = services

    @activity.defn(name=names.SEND_PROPOSAL)
    async def send_proposal(self, ref: ProposalRef) -> ProposalSent:
        pool, key = self._s.pool, f"proposal:{ref.proposal_id}:proposal:1"
        async with business_errors(), pool.acquire() as conn:
            proposal = await proposals.get(conn, ref.proposal_id)
            seller = await companies.get(conn, proposal.company_id)
            # Signable through the whole last day of validity, where the seller is.
            expires_at = overdue_at(proposal.valid_until, seller.time_zone)
            if proposal.status != ProposalStatus.SENT:
                view = await ui_views.proposal_view(conn, proposal, seller)
                return ProposalSent(proposal.status, expires_at, view)
            if not await outbox.is_queued(conn, key):
                proposal = await self._numbered(conn, proposal, seller)
                document_key = await self._render(conn, proposal)
                buyer = await clients.get(conn, proposal.client_id)
                locale = pick_locale(buyer.locale)
                async with conn.transaction():
                    token = await store.new_access_token(
                        conn, "sign", expires_at, proposal_id=proposal.id
                    )
                    # The parties as sent (as the PDF prints them); to the live address.
                    shown_seller, shown_buyer = as_issued(proposal, seller, buyer)
                    subject, body = self._s.renderer.email(
                        "proposal",
                        locale,
                        seller=shown_seller,
                        buyer=shown_buyer,
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
                        proposal.sent_by or "system",
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
            # For the Temporal UI's details (issue 15): numbered by now.
            view = await ui_views.proposal_view(
                conn, await proposals.get(conn, ref.proposal_id), seller
            )
        return ProposalSent(ProposalStatus.SENT.value, expires_at, view)

    @activity.defn(name=names.RENDER_PROPOSAL)
    async def render_proposal(self, ref: ProposalRef) -> str:
        """Number and render a sent proposal's PDF, before send_proposal emails it (which
        then finds both); its retries are bounded (workflows.steps.RENDER_RETRY). Returns
        the document's key, or "" for a proposal no longer to be sent."""
        async with business_errors(), self._s.pool.acquire() as conn:
            proposal = await proposals.get(conn, ref.proposal_id)
            if proposal.status != ProposalStatus.SENT:
                return ""
            seller = await companies.get(conn, proposal.company_id)
            return await self._render(conn, await self._numbered(conn, proposal, seller))

    async def _numbered(
        self, conn: store.Connection, proposal: ProposalRow, seller: CompanyRow
    ) -> ProposalRow:
        if proposal.number is not None:
            return proposal
        # The operator's send is the proposal's approval: it takes its number now, in one
        # transaction under the series' lock, before the PDF that prints it. A retry or a
        # resend finds the number and keeps it.
        async with conn.transaction():
            locked = await proposals.get(conn, proposal.id, lock=True)
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
        return await proposals.get(conn, proposal.id)

    async def _render(self, conn: store.Connection, proposal: ProposalRow) -> str:
        if proposal.document_key:
            return str(proposal.document_key)
        # The parties as sent (issue 15 point 2), stored with the PDF that prints them: the
        # signing page, a resend and the emails print these, whatever the client is edited
        # to later. Taken again until a PDF is stored: a proposal whose PDF failed went back
        # to draft, and the data fixed since is what it is sent with.
        parties = await live_parties(
            conn, proposal.company_id, proposal.client_id, proposal.currency
        )
        await snapshots.set_proposal_parties(conn, proposal.id, parties)
        proposal = replace(proposal, issued_parties=parties.to_json())
        line_rows = await store.lines(conn, "proposal_lines", "proposal_id", proposal.id)
        context = await document_context(conn, proposal, line_rows, "proposal")
        pdf = await self._s.renderer.render_pdf("pdf/proposal.html", context)
        stored = await store_document(conn, f"proposal/{proposal.id}.pdf", pdf)
        await proposals.set_document(conn, proposal.id, stored.key)
        return stored.key

    @activity.defn(name=names.ACCEPT_PROPOSAL)
    async def accept_proposal(self, accept: AcceptProposalInput) -> str:
        """Record the signature and create the draft invoice, all in one transaction, if
        the signal names an answer the signing page or the e-sign webhook recorded."""
        async with business_errors(), self._s.pool.acquire() as conn:
            async with conn.transaction():
                proposal = await proposals.get(conn, accept.proposal_id, lock=True)
                row = await signing.answer_for_update(conn, accept.signature.answer_id)
                if proposal.invoice_id is not None and applied_here(row, proposal):
                    # A retry of the attempt that applied this very answer.
                    return str(proposal.invoice_id)
                claimed = claimed_signature(accept.proposal_id, accept.signature)
                refusal = await answer_refusal(conn, proposal, row, claimed)
                if refusal is None and row is not None:
                    if proposal.status != ProposalStatus.SENT:
                        raise ApplicationError(
                            f"the proposal is {proposal.status} and can no longer be signed",
                            type="IllegalTransition",
                            non_retryable=True,
                        )
                    await signing.consume_answer(conn, row.id)
                    return await self._accept(conn, proposal, accept.signature)
            # Nothing was written; the refusal is kept on its own.
            assert refusal is not None  # a missing row is refused (answers.UNKNOWN)
            await refuse_answer(conn, proposal.id, accept.signature.answer_id, claimed, refusal)
        raise ApplicationError(
            f"signature refused: {refusal}", type=ANSWER_REFUSED, non_retryable=True
        )

    async def _accept(
        self, conn: store.Connection, proposal: ProposalRow, signature: SignProposal
    ) -> str:
        consent_sha256 = hashlib.sha256(signature.consent_text.encode()).hexdigest()
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
        seller = await companies.get(conn, proposal.company_id)
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
        claimed = claimed_decline(close)
        async with business_errors(), self._s.pool.acquire() as conn:
            async with conn.transaction():
                proposal = await proposals.get(conn, close.proposal_id, lock=True)
                if proposal.status != ProposalStatus.SENT:
                    return
                refusal = None
                if claimed is not None:
                    row = await signing.answer_for_update(conn, close.answer_id)
                    refusal = await answer_refusal(conn, proposal, row, claimed)
                    if refusal is None and row is not None:
                        await signing.consume_answer(conn, row.id)
                if refusal is None:
                    await self._close(conn, proposal, close, status)
                    return
            assert claimed is not None and refusal is not None
            await refuse_answer(conn, proposal.id, close.answer_id, claimed, refusal)
        raise ApplicationError(
            f"decline refused: {refusal}", type=ANSWER_REFUSED, non_retryable=True
        )

    async def _close(
        self,
        conn: store.Connection,
        proposal: ProposalRow,
        close: CloseProposalInput,
        status: ProposalStatus,
    ) -> None:
        mark_closed = {
            ProposalStatus.DECLINED: proposals.mark_declined,
            ProposalStatus.EXPIRED: proposals.mark_expired,
        }[status]
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

    # --- follow-ups (domain.followups) and conversion ---------------------------------

    @activity.defn(name=names.PLAN_PROPOSAL_FOLLOWUPS)
    async def plan_proposal_followups(self, plan: PlanFollowupsInput) -> FollowupPlan:
        """The follow-ups of a sent proposal still to go out, planned once after it was
        emailed: none before `plan.at`, none at or after its expiry."""
        async with business_errors(), self._s.pool.acquire() as conn:
            proposal = await proposals.get(conn, plan.proposal_id)
            if proposal.status != ProposalStatus.SENT:
                return FollowupPlan()
            seller = await companies.get(conn, proposal.company_id)
            buyer = await clients.get(conn, proposal.client_id)
            planned = planned_followups(proposal, seller, buyer, plan.at)
            due = followups.followups_to_send(
                planned,
                planned_at=plan.at,
                expires_at=overdue_at(proposal.valid_until, seller.time_zone),
            )
            return FollowupPlan([FollowupStep(f.step, f.send_at) for f in due])

    @activity.defn(name=names.SEND_PROPOSAL_FOLLOWUP)
    async def send_proposal_followup(self, followup: FollowupInput) -> str:
        """Email one follow-up through the outbox (key proposal:<id>:followup:<step>) with a
        fresh signing link, and audit it, once: a retry finds the message queued and only
        finishes its delivery. A proposal no longer waiting for its client (signed,
        declined, expired, converted) gets none. Returns what happened: sent or stopped."""
        key = followups.step_key(followup.proposal_id, followup.step)
        async with business_errors(), self._s.pool.acquire() as conn:
            async with conn.transaction():
                # Under the row lock: a signature or a conversion committed first stops it.
                proposal = await proposals.get(conn, followup.proposal_id, lock=True)
                queued = await outbox.is_queued(conn, key)
                if not queued:
                    if proposal.status != ProposalStatus.SENT:
                        return "stopped"
                    seller = await companies.get(conn, proposal.company_id)
                    expires_at = overdue_at(proposal.valid_until, seller.time_zone)
                    if followup.scheduled_for >= expires_at:
                        return "stopped"
                    await self._queue_followup(conn, proposal, seller, followup, key, expires_at)
            await self._s.mailer.deliver_on(conn, key, pool=self._s.pool)
        return "sent"

    async def _queue_followup(
        self,
        conn: store.Connection,
        proposal: ProposalRow,
        seller: CompanyRow,
        followup: FollowupInput,
        key: str,
        expires_at: datetime,
    ) -> None:
        buyer = await clients.get(conn, proposal.client_id)
        locale = pick_locale(buyer.locale)
        zone = buyer.time_zone or seller.time_zone
        left = followups.days_left(proposal.valid_until, local_date(followup.scheduled_for, zone))
        token = await store.new_access_token(conn, "sign", expires_at, proposal_id=proposal.id)
        shown_seller, shown_buyer = as_issued(proposal, seller, buyer)  # as sent
        subject, body = self._s.renderer.email(
            "proposal_followup",
            locale,
            seller=shown_seller,
            buyer=shown_buyer,
            number=proposal.number,
            sign_url=f"{self._s.public_url}/sign/{token}",
            valid_until=format_day(proposal.valid_until, locale),
            days_left=left,
            days_left_text=followups.days_text(left, locale),
        )
        await self._s.mailer.enqueue(
            conn,
            OutgoingEmail(
                idempotency_key=key,
                kind="proposal_followup",
                to_address=buyer.email,
                subject=subject,
                body_text=body,
                proposal_id=str(proposal.id),
                scheduled_for=followup.scheduled_for,
            ),
        )
        await store.audit(
            conn,
            "followup_sent",
            "system",
            followup.scheduled_for,
            proposal_id=proposal.id,
            data={"step": followup.step, "scheduled_for": followup.scheduled_for.isoformat()},
        )

    @activity.defn(name=names.CONVERT_PROPOSAL)
    async def convert_proposal(self, convert: ConvertProposalInput) -> str:
        """The `convert` signal's step: the unsigned proposal becomes a draft invoice (see
        convert_in_transaction). Returns the invoice's id, or "" when the proposal can no
        longer be converted (answered meanwhile): the workflow then goes on as it was."""
        async with business_errors(), self._s.pool.acquire() as conn:
            try:
                invoice_id, _ = await convert_in_transaction(
                    conn, convert.proposal_id, convert.request_id, convert.at
                )
            except IllegalTransition as refused:
                activity.logger.warning(
                    "proposal %s not converted: %s", convert.proposal_id, refused.reason
                )
                return ""
            return invoice_id


def planned_followups(
    proposal: ProposalRow, seller: CompanyRow, buyer: ClientRow, at: datetime
) -> list[followups.PlannedFollowup]:
    """Every follow-up of the proposal's schedule (its own, else the company's), at the
    reminder hour where the client is, as invoice reminders go out."""
    schedule = followups.resolve(
        followups.FollowupSchedule(
            days_after_sent=tuple(seller.proposal_followup_days_after_sent),
            days_before_expiry=tuple(seller.proposal_followup_days_before_expiry),
        ),
        proposal.followup_days_after_sent,
        proposal.followup_days_before_expiry,
    )
    return followups.plan_followups(
        schedule,
        sent_at=proposal.emailed_at or at,
        valid_until=proposal.valid_until,
        time_zone=buyer.time_zone or seller.time_zone,
        hour=buyer.reminder_hour if buyer.reminder_hour is not None else seller.reminder_hour,
    )


CONVERTIBLE = (ProposalStatus.SENT, ProposalStatus.EXPIRED)


async def convert_in_transaction(
    conn: store.Connection, proposal_id: Any, request_id: str, at: datetime
) -> tuple[str, bool]:
    """Make an unsigned proposal (sent, or expired) a draft invoice with its lines, terms and
    contract, in one transaction: the proposal becomes `converted`, its sign links are used
    up, and its audit chain records `converted` by the operator of the recorded request
    (temporal-ui without one) and `invoice_created`. Once per proposal: a proposal already
    converted returns its invoice and False ("not made now"). A proposal signed, declined
    or still a draft raises IllegalTransition."""
    async with conn.transaction():
        proposal = await proposals.get(conn, proposal_id, lock=True)
        if proposal.status == ProposalStatus.CONVERTED and proposal.invoice_id is not None:
            return str(proposal.invoice_id), False
        status = ProposalStatus(proposal.status)
        if status not in CONVERTIBLE:
            raise IllegalTransition(conversion_refusal(status))
        actor = await operators.take_request(
            conn, request_id, Action.CONVERT_PROPOSAL, str(proposal.id)
        )
        seller = await companies.get(conn, proposal.company_id)
        invoice_id = await invoices.create_draft_from_proposal(
            conn, proposal, seller.invoice_series
        )
        await proposals.mark_converted(conn, proposal.id, at=at, by=actor, invoice_id=invoice_id)
        await store.audit(
            conn,
            "converted",
            actor,
            at,
            proposal_id=proposal.id,
            data={"invoice_id": str(invoice_id), "status_before": status.value},
        )
        await store.audit(
            conn,
            "invoice_created",
            actor,
            at,
            proposal_id=proposal.id,
            data={"invoice_id": str(invoice_id)},
        )
        return str(invoice_id), True


def conversion_refusal(status: ProposalStatus) -> str:
    """Why a proposal in `status` cannot be made an invoice by hand."""
    if status == ProposalStatus.SIGNED:
        return "the proposal is signed: its signature already made its invoice"
    if status == ProposalStatus.DECLINED:
        return "the client declined the proposal; it cannot be made an invoice"
    if status == ProposalStatus.DRAFT:
        return "the proposal is a draft and was never sent; send it first"
    return f"the proposal is {status.value} and cannot be made an invoice"


def claimed_signature(proposal_id: str, signature: SignProposal) -> answers.Answer:
    return answers.Answer(
        proposal_id=proposal_id,
        kind="sign",
        source=signature.source,
        answered_at=signature.signed_at,
        signer_name=signature.signer_name,
        signer_email=signature.signer_email,
        document_sha256=signature.document_sha256,
        consent_text=signature.consent_text,
        ip=signature.ip,
        user_agent=signature.user_agent,
        signature_image_key=signature.signature_image_key,
    )


def claimed_decline(close: CloseProposalInput) -> answers.Answer | None:
    """The client's refusal a decline claims; None for an expiry (the workflow's timer)."""
    if close.status != ProposalStatus.DECLINED:
        return None
    return answers.Answer(
        proposal_id=close.proposal_id,
        kind="decline",
        source="page",
        answered_at=close.at,
        reason=close.reason,
        ip=close.ip,
        user_agent=close.user_agent,
    )


def recorded_answer(row: ProposalAnswerRow) -> answers.Answer:
    return answers.Answer(
        proposal_id=str(row.proposal_id),
        kind=row.kind,
        source=row.source,
        answered_at=row.answered_at,
        signer_name=row.signer_name,
        signer_email=row.signer_email,
        document_sha256=row.document_sha256,
        consent_text=row.consent_text,
        reason=row.reason,
        ip=row.ip,
        user_agent=row.user_agent,
        signature_image_key=row.signature_image_key,
    )


def applied_here(row: ProposalAnswerRow | None, proposal: ProposalRow) -> bool:
    """The answer is this proposal's signature, already applied."""
    return (
        row is not None
        and row.proposal_id == proposal.id
        and row.kind == "sign"
        and row.consumed_at is not None
    )


async def answer_refusal(
    conn: store.Connection,
    proposal: ProposalRow,
    row: ProposalAnswerRow | None,
    claimed: answers.Answer,
) -> str | None:
    """Why the claimed answer cannot be applied, or None when it matches the recorded row
    (locked by the caller, who consumes it in the transaction that applies it)."""
    sent_sha256 = (
        await documents.sha256_of(conn, proposal.document_key) if proposal.document_key else None
    )
    return answers.refusal(
        recorded_answer(row) if row is not None else None,
        row is not None and row.consumed_at is not None,
        claimed,
        sent_sha256,
    )


async def refuse_answer(
    conn: store.Connection,
    proposal_id: object,
    answer_id: str,
    claimed: answers.Answer,
    refusal: str,
) -> None:
    """Keep the refused answer in the proposal's audit chain; nothing else changes."""
    async with conn.transaction():
        await proposals.get(conn, proposal_id, lock=True)
        await store.audit(
            conn,
            "signature_refused" if claimed.kind == "sign" else "decline_refused",
            "unverified signal",
            activity.info().started_time,
            proposal_id=proposal_id,
            data={
                "reason": refusal,
                "answer_id": answer_id[: answers.CLAIM_MAX_CHARS],
                "claimed": answers.claimed_details(claimed),
            },
        )
    activity.logger.warning("answer to proposal %s refused: %s", proposal_id, refusal)
