"""The signed copy: the proposal PDF followed by a signature certificate page, stored and
emailed to the client.

The certificate is rendered with WeasyPrint and appended to the stored proposal PDF with
pypdf; the exact PDF the signer was shown is also embedded in the file, byte for byte, so
anyone can check it against the SHA-256 recorded at signing.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.documents import as_issued, store_document
from activities.mail import Attachment, OutgoingEmail
from activities.services import Services, business_errors
from db import audit, clients, companies, documents, outbox, proposals, signatures, store
from db.rows import ProposalRow, SignatureRow
from domain.audit import AuditEvent, verify_chain
from domain.certificate_i18n import certificate_labels, event_label
from domain.i18n import pick_locale
from domain.link_policy import certificate_events
from domain.status import ProposalStatus
from messages import activity_names as names
from messages.models import ProposalRef

ORIGINAL_FILENAME = "proposal.pdf"
SIGNED_FILENAME = "signed-proposal.pdf"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def signed_document_key(proposal_id: Any) -> str:
    return f"proposal/{proposal_id}/signed.pdf"


def signed_email_key(proposal_id: Any) -> str:
    return f"proposal:{proposal_id}:signed:1"


def utc_text(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def append_certificate(proposal_pdf: bytes, certificate_pdf: bytes, title: str) -> bytes:
    """The proposal's pages, then the certificate's, with the original PDF embedded."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(proposal_pdf)))
    writer.append(PdfReader(io.BytesIO(certificate_pdf)))
    writer.add_attachment(ORIGINAL_FILENAME, proposal_pdf)
    writer.add_metadata({"/Title": title, "/Producer": "q2c"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


class SigningActivities:
    def __init__(self, services: Services) -> None:
        self._s = services

    @activity.defn(name=names.SEND_SIGNED_COPY)
    async def send_signed_copy(self, ref: ProposalRef) -> str:
        """Build the signed PDF once, email it once; returns its document key."""
        pool, key = self._s.pool, signed_email_key(ref.proposal_id)
        async with business_errors(), pool.acquire() as conn:
            proposal = await proposals.get(conn, ref.proposal_id)
            if proposal.status != ProposalStatus.SIGNED:
                raise ApplicationError(
                    f"the proposal is {proposal.status}, not signed",
                    type="IllegalTransition",
                    non_retryable=True,
                )
            document_key = proposal.signed_document_key or await self._build(conn, proposal)
            if not await outbox.is_queued(conn, key):
                await self._enqueue(conn, proposal, document_key, key)
        await self._s.mailer.deliver(pool, key)
        await self._record_delivery(ref.proposal_id, document_key, key)
        return document_key

    @activity.defn(name=names.RENDER_SIGNED_COPY)
    async def render_signed_copy(self, ref: ProposalRef) -> str:
        """Build the signed PDF once (before send_signed_copy emails it); its retries are
        bounded (workflows.steps.RENDER_RETRY). Returns its document key."""
        async with business_errors(), self._s.pool.acquire() as conn:
            proposal = await proposals.get(conn, ref.proposal_id)
            if proposal.status != ProposalStatus.SIGNED:
                raise ApplicationError(
                    f"the proposal is {proposal.status}, not signed",
                    type="IllegalTransition",
                    non_retryable=True,
                )
            return str(proposal.signed_document_key or await self._build(conn, proposal))

    async def _build(self, conn: store.Connection, proposal: ProposalRow) -> str:
        signature = await signatures.of_proposal(conn, proposal.id)
        if signature is None or not proposal.document_key:
            raise ApplicationError(
                f"proposal {proposal.id} has no signature or no PDF",
                type="NotFound",
                non_retryable=True,
            )
        stored_original = await documents.content_of(conn, proposal.document_key)
        if stored_original is None:
            raise LookupError(f"no document {proposal.document_key}")
        original = stored_original.content
        context = await self._certificate_context(conn, proposal, signature, original)
        certificate = await self._s.renderer.render_pdf("pdf/certificate.html", context)
        signed = await asyncio.to_thread(
            append_certificate, original, certificate, f"{context['c']['title']} — {proposal.id}"
        )
        async with conn.transaction():
            # A concurrent attempt (a retry racing a slow first try) may have stored one.
            locked = await proposals.get(conn, proposal.id, lock=True)
            if locked.signed_document_key:
                return str(locked.signed_document_key)
            stored = await store_document(conn, signed_document_key(proposal.id), signed)
            await proposals.set_signed_document(conn, proposal.id, stored.key)
        return stored.key

    async def _certificate_context(
        self,
        conn: store.Connection,
        proposal: ProposalRow,
        signature: SignatureRow,
        original: bytes,
    ) -> dict[str, Any]:
        # The parties of the proposal as it was sent (and signed).
        seller, buyer = as_issued(
            proposal,
            await companies.get(conn, proposal.company_id),
            await clients.get(conn, proposal.client_id),
        )
        locale = pick_locale(buyer.locale)
        labels = certificate_labels(locale)
        # domain.audit reads rows by column name: the typed rows as dicts.
        rows = [asdict(row) for row in await audit.events_of_proposal(conn, proposal.id)]
        chain_valid, first_invalid = verify_chain(rows)
        events = []
        shown, more_views = certificate_events([row["kind"] for row in rows])
        for row in (rows[position] for position in shown):
            event = AuditEvent.from_row(row)
            events.append(
                {
                    "id": row["id"],
                    "time": utc_text(row["occurred_at"]),
                    "label": event_label(
                        row["kind"], locale, first=bool((event.data or {}).get("first"))
                    ),
                    "actor": row["actor"],
                    "ip": row["ip"],
                    "user_agent": row["user_agent"],
                    "hash": row["hash"],
                }
            )
        image = None
        if signature.signature_image_key:
            png = await documents.content_of(conn, signature.signature_image_key)
            # Only a PNG goes into the page; anything else stored under the key is ignored.
            if png is not None and png.content.startswith(PNG_MAGIC):
                image = "data:image/png;base64," + base64.b64encode(png.content).decode()
        consent_sha256 = (
            signature.consent_sha256 or hashlib.sha256(signature.consent_text.encode()).hexdigest()
        )
        return {
            "locale": locale,
            "c": labels,
            "proposal_id": str(proposal.id),
            "seller": asdict(seller),
            "buyer": asdict(buyer),
            "signature": asdict(signature),
            "signed_at": utc_text(signature.signed_at) + " UTC",
            "source": labels["source_page"]
            if signature.source == "page"
            else labels["source_webhook"],
            "consent_sha256": consent_sha256,
            "signature_image": image,
            "original_filename": ORIGINAL_FILENAME,
            "original_sha256": hashlib.sha256(original).hexdigest(),
            "events": events,
            "more_views": more_views,
            "chain_valid": chain_valid,
            "first_invalid_event_id": first_invalid,
            "generated_at": utc_text(datetime.now(UTC)),
        }

    async def _enqueue(
        self, conn: store.Connection, proposal: ProposalRow, document_key: str, key: str
    ) -> None:
        seller = await companies.get(conn, proposal.company_id)
        buyer = await clients.get(conn, proposal.client_id)
        shown_seller, shown_buyer = as_issued(proposal, seller, buyer)  # as sent; to the live
        signature = await signatures.of_proposal(conn, proposal.id)
        assert signature is not None  # _build found it, or an earlier attempt did
        subject, body = self._s.renderer.email(
            "signed",
            pick_locale(shown_buyer.locale),
            seller=shown_seller,
            buyer=shown_buyer,
            signer_name=signature.signer_name,
            signed_at=utc_text(signature.signed_at),
            document_sha256=signature.document_sha256,
        )
        await self._s.mailer.enqueue(
            conn,
            OutgoingEmail(
                idempotency_key=key,
                kind="signed",
                to_address=buyer.email,
                subject=subject,
                body_text=body,
                proposal_id=str(proposal.id),
                attachments=(Attachment(document_key, SIGNED_FILENAME),),
            ),
        )

    async def _record_delivery(self, proposal_id: str, document_key: str, key: str) -> None:
        """One 'signed_copy_emailed' event once SMTP took the message, even if the attempt
        that sent it died before recording it."""
        async with self._s.pool.acquire() as conn, conn.transaction():
            await proposals.get(conn, proposal_id, lock=True)
            sent_at = await outbox.sent_at(conn, key)
            recorded = await audit.proposal_has_event(conn, proposal_id, "signed_copy_emailed")
            if sent_at is None or recorded:
                return
            sha256 = await documents.sha256_of(conn, document_key)
            await store.audit(
                conn,
                "signed_copy_emailed",
                "smtp",
                sent_at,
                proposal_id=proposal_id,
                data={"document_key": document_key, "document_sha256": sha256},
            )
