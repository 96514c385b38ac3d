"""Every side effect of q2c that a workflow asks for: PDF rendering, SMTP, outgoing HTTP
(webhooks) and calls into the data-access layer. Workflows call these by name.

Imports domain/, messages/, settings, db/ and templates/ (and workflows/ only to start a
workflow); imported by worker.py and starter/.
"""
