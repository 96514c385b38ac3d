"""Custom search attributes that mirror an invoice for the Temporal UI's list filters.

No personal data goes here: ids, numbers, statuses, amounts and dates only.
"""

from temporalio.common import SearchAttributeKey

STATUS = SearchAttributeKey.for_keyword("Q2CStatus")
CLIENT_ID = SearchAttributeKey.for_keyword("Q2CClientId")
INVOICE_NUMBER = SearchAttributeKey.for_keyword("Q2CInvoiceNumber")
# A float only as a filter mirror ("amount due > 1000"); the amount of record is numeric in SQL.
AMOUNT_DUE = SearchAttributeKey.for_float("Q2CAmountDue")
CURRENCY = SearchAttributeKey.for_keyword("Q2CCurrency")
DUE_DATE = SearchAttributeKey.for_datetime("Q2CDueDate")

# RO e-Factura: the submission's status (pending, uploaded, accepted, rejected), upserted by
# EfacturaSubmissionWorkflow, so the UI lists what ANAF rejected or has not accepted yet.
EFACTURA_STATUS = SearchAttributeKey.for_keyword("Q2CEfacturaStatus")

# The matter (case) an invoice is filed under, by id (no title or reference: those may name
# people), upserted by InvoiceWorkflow once it knows it, so the UI lists a matter's invoices.
MATTER_ID = SearchAttributeKey.for_keyword("Q2CMatterId")

ALL = (
    STATUS,
    CLIENT_ID,
    INVOICE_NUMBER,
    AMOUNT_DUE,
    CURRENCY,
    DUE_DATE,
    EFACTURA_STATUS,
    MATTER_ID,
)
