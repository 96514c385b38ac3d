"""The operator commands, one module per resource of the HTTP API.

Each module has `register(commands, json_too)`, which adds its subcommand (with the actions,
flags and help text under it) to the `q2c` parser, and `run(args, api, out) -> int`, which
performs the parsed action through `Api` and prints through `Output`. They import only
`starter.cli.client`, `starter.cli.output`, `starter.cli.inputs` and `domain/` values.
"""
