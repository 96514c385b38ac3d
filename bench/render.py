"""Render figures: one invoice PDF cold and warm (in fresh processes), and the render limit:
how many invoices per second the PDFs the pipeline renders for one invoice reach alone,
on a process pool using every core."""

from __future__ import annotations

import io
import multiprocessing
import os
import time
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

import asyncpg

from bench.stats import median, percentile


def _plain_weasyprint(html: str) -> bytes:
    """The same HTML through WeasyPrint as a newcomer calls it (issue 16):
    `weasyprint.HTML(string=…).write_pdf()` in a fresh default setup, i.e. WeasyPrint's
    own HTML user-agent stylesheet and a new FontConfiguration for each document, nothing
    kept between documents (q2c's house stylesheet is its user stylesheet, not in the
    HTML, so it is not applied here; base_url only so the same files resolve). The
    reference q2c's render is measured against: a ratio measured side by side in one run
    travels between machines, absolute times do not."""
    from weasyprint import HTML

    from activities.pdf_engine import BUILTIN_TEMPLATES

    pdf: bytes = HTML(string=html, base_url=str(BUILTIN_TEMPLATES)).write_pdf()
    return pdf


def _render_series(lines: int, warm: int) -> dict[str, Any]:
    """In a fresh process: the first render (cold: WeasyPrint imported, fonts loaded,
    templates compiled) and then `warm` more, each from template to PDF bytes; between
    them, the same HTML through plain WeasyPrint (`_plain_weasyprint`), one after the
    other so that the machine's noise falls on both alike."""
    from pypdf import PdfReader

    from activities.documents import DocumentRenderer
    from activities.pdf_engine import BUILTIN_TEMPLATES, write_pdf
    from starter.devstack.samples import sample_context

    renderer = DocumentRenderer()

    def once() -> tuple[float, bytes]:
        started = time.perf_counter()
        html = renderer.render_html("pdf/invoice.html", sample_context("ro", "invoice", lines))
        pdf = write_pdf(html, str(BUILTIN_TEMPLATES), None)
        return (time.perf_counter() - started) * 1000, pdf

    def plain(html: str) -> float:
        started = time.perf_counter()
        _plain_weasyprint(html)
        return (time.perf_counter() - started) * 1000

    cold, pdf = once()
    html = renderer.render_html("pdf/invoice.html", sample_context("ro", "invoice", lines))
    plain(html)  # its own first call, not counted: both are compared warm
    timings: list[float] = []
    plain_timings: list[float] = []
    for _ in range(warm):
        timings.append(once()[0])
        plain_timings.append(plain(html))
    warm_median = median(timings)
    plain_median = median(plain_timings)
    return {
        "lines": lines,
        "pages": len(PdfReader(io.BytesIO(pdf)).pages),
        "cold_ms": round(cold, 1),
        "warm_runs": warm,
        "warm_median_ms": round(warm_median, 1),
        "warm_p95_ms": round(percentile(timings, 0.95), 1),
        "plain_weasyprint_median_ms": round(plain_median, 1),
        "plain_weasyprint_p95_ms": round(percentile(plain_timings, 0.95), 1),
        "ratio_to_plain": round(warm_median / plain_median, 3),
    }


def render_section(warm: int) -> dict[str, Any]:
    from bench.profile_render import profile_render

    spawn = multiprocessing.get_context("spawn")
    figures: dict[str, Any] = {}
    for lines in (15, 100):
        # A process per series, so "cold" is really the first render in a process.
        with ProcessPoolExecutor(1, mp_context=spawn) as fresh:
            figures[f"lines_{lines}"] = fresh.submit(_render_series, lines, warm).result()
    with ProcessPoolExecutor(1, mp_context=spawn) as fresh:
        figures["profile_15_lines"] = fresh.submit(profile_render, 20, 15).result()
    return figures


async def pipeline_documents(db: asyncpg.Pool) -> list[tuple[str, str]]:
    """The HTML of every PDF the pipeline rendered for its last invoice, built the way the
    activities build it: the proposal, its signature certificate, the draft and the final
    invoice. (template, html) pairs."""
    from activities.documents import DocumentRenderer, document_context
    from activities.services import Services
    from activities.signing import SigningActivities
    from db import documents, invoices, proposals, signatures
    from db.store import lines

    renderer = DocumentRenderer()
    async with db.acquire() as conn:
        # The activities take typed rows (db.rows): read the ids here, the rows through db/.
        invoice_id = await conn.fetchval(
            "SELECT id FROM invoices WHERE document_key IS NOT NULL AND proposal_id IS NOT NULL "
            "ORDER BY sent_at DESC LIMIT 1"
        )
        if invoice_id is None:
            raise RuntimeError("the pipeline emailed no invoice to take as the example")
        invoice = await invoices.get(conn, invoice_id)
        proposal = await proposals.get(conn, invoice.proposal_id)
        signature = await signatures.of_proposal(conn, proposal.id)
        assert signature is not None and proposal.document_key is not None
        content = await documents.content_of(conn, proposal.document_key)
        assert content is not None
        original = bytes(content.content)
        proposal_lines = await lines(conn, "proposal_lines", "proposal_id", proposal.id)
        invoice_lines = await lines(conn, "invoice_lines", "invoice_id", invoice.id)
        services = Services(pool=db, mailer=None, renderer=renderer, public_url="")  # type: ignore[arg-type]
        certificate = await SigningActivities(services)._certificate_context(
            conn, proposal, signature, original
        )
        contexts = [
            (
                "pdf/proposal.html",
                await document_context(conn, proposal, proposal_lines, "proposal"),
            ),
            ("pdf/certificate.html", certificate),
            ("pdf/invoice.html", await document_context(conn, invoice, invoice_lines, "draft")),
            ("pdf/invoice.html", await document_context(conn, invoice, invoice_lines, "invoice")),
        ]
    return [(template, renderer.render_html(template, context)) for template, context in contexts]


def _render_one(html: str) -> int:
    from activities.pdf_engine import BUILTIN_TEMPLATES, write_pdf

    return len(write_pdf(html, str(BUILTIN_TEMPLATES), None))


def render_limit(documents: list[tuple[str, str]], seconds: float) -> dict[str, Any]:
    """Every core renders the invoice's documents round after round for `seconds`."""
    from activities.pdf_engine import warm_up_renderer

    cores = os.cpu_count() or 1
    spawn = multiprocessing.get_context("spawn")
    htmls = [html for _, html in documents]
    with ProcessPoolExecutor(cores, mp_context=spawn, initializer=warm_up_renderer) as pool:
        # A first round in every process: compiled CSS, loaded fonts, like the worker's pool.
        for future in [pool.submit(_render_one, h) for _ in range(cores) for h in htmls]:
            future.result()
        started = time.perf_counter()
        deadline = started + seconds
        rendered = 0
        in_flight: list[Future[int]] = []
        queue = 0
        while True:
            while len(in_flight) < cores * 2 and time.perf_counter() < deadline:
                in_flight.append(pool.submit(_render_one, htmls[queue % len(htmls)]))
                queue += 1
            if not in_flight:
                break
            in_flight.pop(0).result()
            rendered += 1
        elapsed = time.perf_counter() - started
    per_invoice = len(htmls)
    return {
        "cores": cores,
        "documents_per_invoice": [template for template, _ in documents],
        "pdfs_rendered": rendered,
        "seconds": round(elapsed, 2),
        "pdfs_per_s": round(rendered / elapsed, 2),
        "invoices_per_s": round(rendered / per_invoice / elapsed, 3),
    }
