"""When a client's answer to a proposal (a signature or a refusal) may be applied.

The workflow's `sign` / `decline` signal can be sent by anyone who reaches Temporal, so
it only claims an answer; what the signing page or a verified e-sign webhook recorded is
the truth. An answer is applied only if the signal names a recorded, unused answer of the
same proposal and kind whose every detail it repeats, and the document it was given for
is the one that was sent.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

# How much of each claimed detail a refusal keeps in the audit trail: enough to see what
# was tried, never a way to grow the trail (or the signed certificate) without bound.
CLAIM_MAX_CHARS = 200


@dataclass(frozen=True)
class Answer:
    """An answer as recorded, or as a signal claims it."""

    proposal_id: str
    kind: str  # sign | decline
    source: str  # page | esign
    answered_at: datetime
    signer_name: str = ""
    signer_email: str = ""
    document_sha256: str = ""
    consent_text: str = ""
    reason: str = ""
    ip: str = ""
    user_agent: str = ""
    signature_image_key: str = ""


# Why an answer is refused: short, stable codes kept in the audit event.
UNKNOWN = "unknown_answer"
USED = "answer_already_used"
OTHER_PROPOSAL = "answer_of_another_proposal"
OTHER_KIND = "answer_of_another_kind"
DIFFERENT = "details_differ"
DOCUMENT = "document_not_the_one_sent"


def refusal(
    recorded: Answer | None,
    consumed: bool,
    claimed: Answer,
    sent_document_sha256: str | None,
) -> str | None:
    """Why the claimed answer cannot be applied, or None when it may be."""
    if recorded is None:
        return UNKNOWN
    if consumed:
        return USED
    if recorded.proposal_id != claimed.proposal_id:
        return OTHER_PROPOSAL
    if recorded.kind != claimed.kind:
        return OTHER_KIND
    if differing_fields(recorded, claimed):
        return DIFFERENT
    if claimed.kind == "sign" and (
        not sent_document_sha256 or recorded.document_sha256 != sent_document_sha256
    ):
        return DOCUMENT
    return None


def differing_fields(recorded: Answer, claimed: Answer) -> list[str]:
    return [f.name for f in fields(Answer) if getattr(recorded, f.name) != getattr(claimed, f.name)]


def claimed_details(claimed: Answer) -> dict[str, str]:
    """What a refused signal claimed, each value cut to CLAIM_MAX_CHARS, empty ones left out."""
    details: dict[str, str] = {}
    for f in fields(Answer):
        value = getattr(claimed, f.name)
        text = value.isoformat() if isinstance(value, datetime) else str(value)
        if text:
            details[f.name] = text[:CLAIM_MAX_CHARS]
    return details
