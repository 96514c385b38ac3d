"""Every side effect of q2c: PostgreSQL, PDF rendering and SMTP. Workflows call these."""
