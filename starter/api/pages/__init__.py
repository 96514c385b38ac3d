"""The client's pages: the signing page (`signing`) and the hosted invoice page
(`invoice_page`), reached by random single-use link tokens, not by an operator's key.
Import the rest of starter.api and the layers below it."""
