"""The embedded development stack behind `make run` (`q2c dev`): PostgreSQL from pgserver,
the Temporal dev server, the SMTP mail sink, the migrations runner (dbmate) and the sample
documents of `make samples`.

May import everything below starter/ plus starter.api (which it serves) and worker.py;
imported by starter.cli.
"""
