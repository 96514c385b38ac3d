"""Activity names the workflows call, so workflow modules need not import I/O code."""

SEND_PROPOSAL = "send_proposal"
ACCEPT_PROPOSAL = "accept_proposal"
CLOSE_PROPOSAL = "close_proposal"
SEND_SIGNED_COPY = "send_signed_copy"
# Renders split out of the two above so that only the render is bounded (bounded-render).
RENDER_PROPOSAL = "render_proposal"
RENDER_SIGNED_COPY = "render_signed_copy"

PREPARE_INVOICE_DRAFT = "prepare_invoice_draft"
EDIT_INVOICE = "edit_invoice"
ISSUE_INVOICE = "issue_invoice"
SEND_INVOICE = "send_invoice"
SEND_REMINDER = "send_reminder"
MARK_OVERDUE = "mark_overdue"
RECORD_PAYMENT = "record_payment"
VOID_INVOICE = "void_invoice"
RESCHEDULE_INVOICE = "reschedule_invoice"
SET_REMINDERS_PAUSED = "set_reminders_paused"
RECORD_REFUND = "record_refund"
OPEN_RENDER_TASK = "open_render_task"
OPEN_PROPOSAL_RENDER_TASK = "open_proposal_render_task"

ISSUE_CREDIT_NOTE = "issue_credit_note"
SEND_CREDIT_NOTE = "send_credit_note"

DELIVER_WEBHOOK = "deliver_webhook"
MARK_DELIVERY_FAILED = "mark_delivery_failed"

# Proposal follow-ups (the plan when it is sent, then one email per step) and conversion.
PLAN_PROPOSAL_FOLLOWUPS = "plan_proposal_followups"
SEND_PROPOSAL_FOLLOWUP = "send_proposal_followup"
CONVERT_PROPOSAL = "convert_proposal"
# RO e-Factura (issue 14): whether a document goes to ANAF, then its submission's steps.
EFACTURA_PREPARE = "efactura_prepare"
EFACTURA_UPLOAD = "efactura_upload"
EFACTURA_POLL = "efactura_poll"
EFACTURA_DEADLINE = "efactura_deadline"
# Send an issued invoice or a sent proposal again (issue 15): queue its outbox row, deliver.
RESEND_DOCUMENT = "resend_document"
