"""The ways into q2c: the HTTP API, the `q2c` CLI and the embedded development stack."""
