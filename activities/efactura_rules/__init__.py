"""The official RO e-Factura rules (EN 16931 + CIUS-RO 1.0.9, compiled to XSLT), run by
Saxon-HE (`saxonche`) on a UBL 2.1 invoice or credit note.

The artifacts in `cius-ro-1.0.9/` are the Ministry of Finance's, copied unchanged (see
README.md there for their source and checksums). Compiling the stylesheet takes about half
a second, so it is compiled once per process; Saxon is driven from one thread of its own,
as SaxonC's processor is not meant to be shared between threads.
"""

from __future__ import annotations

import asyncio
import threading
import xml.etree.ElementTree as ElementTree
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RULES_DIR = Path(__file__).resolve().parent / "cius-ro-1.0.9"
STYLESHEET = RULES_DIR / "EN16931-CIUS_RO-UBL-validation.xslt"
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
_SVRL = "{http://purl.oclc.org/dsdl/svrl}"


@dataclass(frozen=True)
class RuleFailure:
    """One broken rule: its id (`BR-RO-010`), `fatal` or `warning`, its text and where."""

    rule_id: str
    flag: str
    text: str
    location: str

    @property
    def fatal(self) -> bool:
        return self.flag == "fatal"

    def __str__(self) -> str:
        return f"{self.rule_id}: {self.text}"


class _Saxon:
    """The processor and the compiled stylesheet, made on first use in Saxon's thread."""

    def __init__(self) -> None:
        self._processor: Any = None
        self._stylesheet: Any = None

    def transform(self, xml: bytes) -> str:
        if self._stylesheet is None:
            from saxonche import PySaxonProcessor

            self._processor = PySaxonProcessor(license=False)
            compiler = self._processor.new_xslt30_processor()
            self._stylesheet = compiler.compile_stylesheet(stylesheet_file=str(STYLESHEET))
        document = self._processor.parse_xml(xml_text=xml.decode("utf-8"))
        svrl: str = self._stylesheet.transform_to_string(xdm_node=document)
        return svrl


_saxon = _Saxon()
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="saxon")
_lock = threading.Lock()


def _failures(svrl: str) -> list[RuleFailure]:
    root = ElementTree.fromstring(svrl)
    failures = []
    # A rule written as <report> (BR-RO-100/110: county and sector codes) is broken when it
    # fires: Saxon records it as a successful-report, not a failed-assert.
    for failed in root.iter():
        if failed.tag not in (f"{_SVRL}failed-assert", f"{_SVRL}successful-report"):
            continue
        text = " ".join("".join(failed.itertext()).split())
        failures.append(
            RuleFailure(
                rule_id=failed.get("id", ""),
                flag=failed.get("flag", "fatal"),
                text=text,
                location=failed.get("location", ""),
            )
        )
    return failures


def _run(xml: bytes) -> list[RuleFailure]:
    with _lock:
        return _failures(_saxon.transform(xml))


def validate(xml: bytes) -> list[RuleFailure]:
    """Every rule the document breaks (fatal and warning); an empty list: valid. A document
    that is not XML at all raises ValueError."""
    try:
        ElementTree.fromstring(xml)
    except ElementTree.ParseError as bad:
        raise ValueError(f"not well-formed XML: {bad}") from bad
    return _executor.submit(_run, xml).result()


async def validate_async(xml: bytes) -> list[RuleFailure]:
    """`validate` without blocking the event loop."""
    try:
        ElementTree.fromstring(xml)
    except ElementTree.ParseError as bad:
        raise ValueError(f"not well-formed XML: {bad}") from bad
    return await asyncio.wrap_future(_executor.submit(_run, xml))


def fatal(failures: list[RuleFailure]) -> list[RuleFailure]:
    return [failure for failure in failures if failure.fatal]
