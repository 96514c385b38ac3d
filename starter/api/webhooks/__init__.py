"""Inbound webhooks: authenticated, stored before they are acted on, idempotent by event id.

Every request is checked in this order, and the README's "Webhooks" section tells
integrators the same:

1. Authentication. `Q2C-Signature: t=<unix seconds>,v1=<hex>` where the hex is
   HMAC-SHA256 over `"{t}.{raw body}"` with the source's secret. Every configured secret of
   the source is tried (two during a rotation); a source without a secret refuses
   everything. The signature is checked first, then `t` against a 5-minute tolerance either
   way, so "stale" is only ever said of an authentic, old request: a replay. Refusals are
   401, logged, and kept in `webhook_rejections`; nothing else is stored.
2. Validation. The body is one JSON object whose `id` is the event id (inside the signed
   body, so a captured request cannot be re-sent under a fresh id). A body that is not JSON
   or fails validation gets 422 naming the field, and nothing is stored: the sender can
   fix it and send the same event id again.
3. Storage. `INSERT ... ON CONFLICT (source, event_id) DO NOTHING` into `webhook_events`
   before anything is done. An event already processed is answered 200 with its original
   outcome and `duplicate: true`, and nothing happens again.
4. Processing, then `processed_at` and `outcome` are set. Refusals (a hash that does not
   match, a proposal no longer open, an unknown proposal) and parked payments are final
   outcomes too. A failure of our own (Temporal or the database unavailable) leaves the
   event stored but unprocessed and answers 5xx: the sender's retry processes it again,
   which is harmless, because every step is idempotent by a business key (external_id, the
   workflow id, the payment reference, the webhook event row).

One module per provider (`crm`, `esign`, `payments`, the last with the operators' list of
parked payments) and `inbox`, the path they share (which also counts what it accepts and
refuses, activities.metrics). Part of the HTTP API: imports db/, domain/, messages/,
workflows/, activities.metrics and starter.api's own modules; only starter.api.app imports
it.
"""

from __future__ import annotations

from fastapi import APIRouter

from starter.api.webhooks import crm, esign, payments

# /webhooks/* and the operators' list of unmatched payments, in the order they had when
# they were one module (route matching and the OpenAPI document keep it).
router = APIRouter()
for provider in (crm, esign, payments):
    router.include_router(provider.router)
