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


def _render_series(lines: int, warm: int) -> dict[str, Any]:
    """In a fresh process: the first render (cold: WeasyPrint imported, fonts loaded,
    templates compiled) and then `warm` more, each from template to PDF bytes."""
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

    cold, pdf = once()
    timings = [once()[0] for _ in range(warm)]
    return {
        "lines": lines,
        "pages": len(PdfReader(io.BytesIO(pdf)).pages),
        "cold_ms": round(cold, 1),
        "warm_runs": warm,
        "warm_median_ms": round(median(timings), 1),
        "warm_p95_ms": round(percentile(timings, 0.95), 1),
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
    from db.store import lines

    renderer = DocumentRenderer()
    async with db.acquire() as conn:
        invoice = await conn.fetchrow(
            "SELECT * FROM invoices WHERE document_key IS NOT NULL AND proposal_id IS NOT NULL "
            "ORDER BY sent_at DESC LIMIT 1"
        )
        if invoice is None:
            raise RuntimeError("the pipeline emailed no invoice to take as the example")
        proposal = await conn.fetchrow(
            "SELECT * FROM proposals WHERE id = $1", invoice["proposal_id"]
        )
        assert proposal is not None
        signature = await conn.fetchrow(
            "SELECT * FROM signatures WHERE proposal_id = $1", proposal["id"]
        )
        assert signature is not None
        original = bytes(
            await conn.fetchval(
                "SELECT content FROM documents WHERE key = $1", proposal["document_key"]
            )
        )
        proposal_lines = await lines(conn, "proposal_lines", "proposal_id", proposal["id"])
        invoice_lines = await lines(conn, "invoice_lines", "invoice_id", invoice["id"])
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
