"""The vendored official e-Factura rules: unchanged (their checksums are the README's), and
read completely (a rule written as a schematron <report>, like the county and sector codes,
counts as broken when it fires)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from activities.efactura_rules import EXAMPLES_DIR, RULES_DIR, STYLESHEET, fatal, validate

README = Path(RULES_DIR).parent / "README.md"


def listed_checksums() -> dict[str, str]:
    rows = re.findall(r"^\| `([^`]+)` \| `([0-9a-f]{64})` \|$", README.read_text(), re.MULTILINE)
    return dict(rows)


def test_the_readme_lists_the_stylesheet_and_both_examples() -> None:
    assert set(listed_checksums()) == {
        f"cius-ro-1.0.9/{STYLESHEET.name}",
        "examples/eInvoice_ex.xml",
        "examples/creditNote_ex.xml",
    }


@pytest.mark.parametrize("name", sorted(listed_checksums()))
def test_each_vendored_artifact_is_unchanged(name: str) -> None:
    path = README.parent / name
    assert hashlib.sha256(path.read_bytes()).hexdigest() == listed_checksums()[name]


def test_a_report_rule_that_fires_is_a_fatal_failure() -> None:
    example = (EXAMPLES_DIR / "eInvoice_ex.xml").read_bytes()
    without_county = example.replace(b"<cbc:CountrySubentity>RO-B</cbc:CountrySubentity>", b"", 1)
    assert without_county != example
    failures = fatal(validate(without_county))
    # BR-RO-110 is a <report> in RO16931-rules.sch; BR-RO-001 (the old CustomizationID) an
    # <assert>: both are found.
    assert {failure.rule_id for failure in failures} == {"BR-RO-001", "BR-RO-110"}
    county = next(failure for failure in failures if failure.rule_id == "BR-RO-110")
    assert "ISO 3166-2" in county.text and county.fatal


def test_what_is_not_xml_is_refused() -> None:
    with pytest.raises(ValueError, match="not well-formed"):
        validate(b"<Invoice>")
