"""The HTTP API: `app` builds it, `deps` holds its dependencies (state, operator auth),
`schemas` the request and response models, `routers/` the operator endpoints under
/api/v1 (one module per resource), `pages/` the client's signing and invoice pages,
`webhooks` the inbound CRM / e-sign / payment webhooks, and `operations` what more than
one door does (raising domain errors that only this package turns into status codes).

Imports activities/, workflows/, db/, messages/, settings, templates/ and domain/; imported
only by starter.devstack (which serves it) and tests.
"""
