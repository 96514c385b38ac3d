"""What the request and response bodies share: amounts as decimal strings (never JSON
numbers), safe names, document lines in, and the base classes of bodies and answers.

Answers describe the JSON the routes build, exactly: a field they lack is an error, not a
silent drop. Money and rates travel as decimal strings, dates and instants as ISO strings,
ids as strings."""

from __future__ import annotations

import unicodedata
from decimal import Decimal
from typing import Annotated, Any

from babel.numbers import get_currency_precision
from fastapi import Response
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from domain.contracts import DocumentLine
from domain.vat import VatCategory
from messages.models import LineData


def _refuse_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError('give amounts as decimal strings, e.g. "250.00", not JSON numbers')
    return value


Amount = Annotated[
    Decimal,
    BeforeValidator(_refuse_float),
    PlainSerializer(lambda value: str(value), return_type=str),
]


def _no_control_characters(text: str) -> str:
    # A name is printed on documents and exported to spreadsheets, where a control
    # character (U+0000-U+001F, U+007F-U+009F) has no meaning and XLSX cannot hold one.
    if any(unicodedata.category(char) == "Cc" for char in text):
        raise ValueError("must not contain control characters")
    return text


Name = Annotated[str, AfterValidator(_no_control_characters)]
"""A name of a person, a company or a bank: one printable line."""


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LineIn(Body):
    description: str = Field(min_length=1, max_length=1000)
    quantity: Amount = Field(gt=0, decimal_places=4)
    unit: str = Field(default="", max_length=20)
    unit_price: Amount = Field(ge=0, decimal_places=4)
    vat_rate: Amount = Field(ge=0, lt=100, decimal_places=4)
    discount_percent: Amount = Field(default=Decimal(0), ge=0, le=100, decimal_places=4)
    # Default: standard above 0 %, zero at 0 %. Exempt, reverse-charge and not-subject
    # lines (0 %) print their legal mention; an exemption may cite its legal basis.
    vat_category: VatCategory | None = None
    vat_legal_basis: str = Field(default="", max_length=300)

    def as_line(self) -> DocumentLine:
        return DocumentLine(
            description=self.description,
            quantity=self.quantity,
            unit_price=self.unit_price,
            vat_rate=self.vat_rate,
            unit=self.unit,
            discount_percent=self.discount_percent,
            category=self.vat_category,
            legal_basis=self.vat_legal_basis,
        )

    def as_data(self) -> LineData:
        return LineData(
            description=self.description,
            quantity=str(self.quantity),
            unit_price=str(self.unit_price),
            vat_rate=str(self.vat_rate),
            unit=self.unit,
            discount_percent=str(self.discount_percent),
            vat_category=self.vat_category.value if self.vat_category else "",
            vat_legal_basis=self.vat_legal_basis,
        )


def _known_currency(code: str) -> str:
    try:
        get_currency_precision(code)
    except Exception as unknown:  # babel raises several kinds for unknown codes
        raise ValueError(f"unknown currency {code}") from unknown
    return code


DecimalText = Annotated[str, Field(description="a decimal, as a string", examples=["250.00"])]


IsoDate = Annotated[str, Field(description="an ISO 8601 date", examples=["2026-12-03"])]


IsoInstant = Annotated[str, Field(description="an ISO 8601 instant with its offset")]


def file_answer(description: str, *media_types: str) -> dict[str, Any]:
    """What a route answering with a file declares instead of a response model."""
    return {
        "response_class": Response,
        "responses": {
            200: {"content": {media: {} for media in media_types}, "description": description}
        },
    }


PDF_ANSWER = file_answer("The PDF.", "application/pdf")
EFACTURA_XML_ANSWER = file_answer("The e-Factura XML (UBL 2.1, CIUS-RO).", "application/xml")
EFACTURA_ANSWER_ZIP = file_answer("ANAF's answer (a zip).", "application/zip")


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LineOut(Answer):
    """A document line as every document shows it; each kind adds what it carries."""

    description: str
    quantity: DecimalText
    unit: str
    unit_price: DecimalText
    discount_percent: DecimalText
    vat_rate: DecimalText
