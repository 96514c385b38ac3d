"""Activity names the workflows call, so workflow modules need not import I/O code."""

SEND_PROPOSAL = "send_proposal"
ACCEPT_PROPOSAL = "accept_proposal"
CLOSE_PROPOSAL = "close_proposal"

PREPARE_INVOICE_DRAFT = "prepare_invoice_draft"
EDIT_INVOICE = "edit_invoice"
ISSUE_INVOICE = "issue_invoice"
SEND_INVOICE = "send_invoice"
SEND_REMINDER = "send_reminder"
MARK_OVERDUE = "mark_overdue"
RECORD_PAYMENT = "record_payment"
VOID_INVOICE = "void_invoice"
