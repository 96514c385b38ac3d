"""How long a client's link keeps showing its document, and how often a view of it is
recorded. Pure functions: the time comes in as an argument."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta

# The short page a signing link shows once its proposal closed long enough ago.
LINK_CLOSED_MESSAGE = {
    "en": "This proposal is closed and its link no longer shows it."
    " Please ask the sender for a copy.",
    "ro": "Această ofertă este închisă, iar linkul nu o mai afișează."
    " Vă rugăm să cereți o copie expeditorului.",
    "ru": "Это предложение закрыто, ссылка его больше не показывает."
    " Попросите отправителя прислать копию.",
}


def proposal_closed_at(
    status: str,
    signed_at: datetime | None,
    declined_at: datetime | None,
    expired_at: datetime | None,
    converted_at: datetime | None = None,
) -> datetime | None:
    """When the proposal stopped being answerable, or None while it is open."""
    return {
        "signed": signed_at,
        "declined": declined_at,
        "expired": expired_at,
        "converted": converted_at,
    }.get(status)


def link_shows_document(closed_at: datetime | None, now: datetime, days_after_close: int) -> bool:
    """A signing link keeps showing the proposal (and the signed PDF) for some days after
    it closed, long enough to download it, and then no more: a link in an old mailbox
    should not open a signed contract forever."""
    return closed_at is None or now < closed_at + timedelta(days=days_after_close)


# A visitor is counted once per this window: reloads, crawlers and a link opened in a loop
# add nothing to the audit trail after the first view.
VIEW_WINDOW = timedelta(hours=1)
# And at most this many views of one document per window whoever the visitors claim to be
# (a user agent is whatever a client sends).
MAX_VIEWS_PER_WINDOW = 20


def visitor_key(ip: str, user_agent: str) -> str:
    """Who viewed, as far as a page can tell: the client IP and a hash of the user agent."""
    return f"{ip}|{hashlib.sha256(user_agent.encode()).hexdigest()[:32]}"


# Views a signature certificate lists one by one; the rest are counted in one line (the
# audit trail keeps them all).
CERTIFICATE_VIEWS = 10


def certificate_events(
    kinds: Sequence[str], views: int = CERTIFICATE_VIEWS
) -> tuple[list[int], int]:
    """The positions of the events a certificate lists (every event except the views after
    the first `views`), and how many views it leaves out: the certificate's length does not
    grow with how often a link was opened."""
    shown: list[int] = []
    seen_views = 0
    for position, kind in enumerate(kinds):
        if kind == "viewed":
            seen_views += 1
            if seen_views > views:
                continue
        shown.append(position)
    return shown, max(seen_views - views, 0)
