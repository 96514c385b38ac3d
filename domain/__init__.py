"""Pure business rules: money and rounding, VAT totals, statuses, numbering, reminder
schedules, requisites, amounts in words. No I/O and no clock: time comes in as an argument.

Everything here is importable inside the Temporal workflow sandbox. The bottom layer: it
imports nothing of q2c's, and every other layer may import it.
"""
