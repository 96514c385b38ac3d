"""The errors business rules and operations raise; only the HTTP layer maps them to statuses.

`InvalidInput` names the field it refuses ("lines[1].vat_rate: ..."); every `Refusal`
carries a message meant for the caller as it stands.
"""


class InvalidInput(ValueError):
    pass


class Refusal(Exception):
    """An operation refused (or failed) as a whole; the message is for the caller."""


class Unacceptable(Refusal):
    """Input refused by a rule whose message is reported whole, not pinned to one field."""


class Missing(Refusal):
    """Something the request names does not exist; the message says what."""


class Conflict(Refusal):
    """The current state of the record forbids the operation."""


class Unavailable(Refusal):
    """A service the operation needs is down; nothing was saved, so it may be retried."""


class OperationFailed(Refusal):
    """The operation failed for a reason the caller cannot fix."""
