"""The error every rule raises for input it cannot accept; the message names the field."""


class InvalidInput(ValueError):
    pass
