"""Pure business rules: money, statuses, numbering, reminder schedules. No I/O.

Everything here is importable inside the Temporal workflow sandbox.
"""
