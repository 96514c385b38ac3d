"""The ways into q2c, one package each: `api` (the HTTP API, pages and webhooks), `cli`
(the `q2c` command, which talks to the API) and `devstack` (the embedded stack of
`make run`: PostgreSQL, Temporal dev server, mail sink, migrations, samples).

The top layer: it may import everything below it; nothing of q2c's imports it.
"""
