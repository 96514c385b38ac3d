"""The `q2c` operator CLI: run the stack's parts, operate q2c through its HTTP API, or demo it.

What lives here, one job per module:

    main.py       build_parser() and main(), the `q2c` entry point; dispatches to the others
    client.py     the one API client (`Api`), its errors (ApiError, Unreachable, CliError)
    output.py     the one output module: `Output`, tables, raw JSON, downloads, error lines
    inputs.py     what the operator hands in: argument types and JSON body files
    commands/     one module per resource (clients, proposals, contracts, invoices, ...),
                  each registering its subcommands and running them through `Api`
    demo.py       `q2c demo`: one proposal from creation to paid, on the API
    stack.py      `q2c dev | worker | api | migrate`: run one of the stack's parts

What it may import: the CLI talks to q2c only through the HTTP API, so besides `domain/`
(pure values such as InvoiceStatus) it imports `settings` and, lazily inside `dev`, `worker`,
`api` and `migrate`, the stack-runner modules (`worker`, `starter.devstack`, uvicorn with
`starter.api.app`). It never imports `db/` or `activities/` directly.
"""
