"""The worker's render processes: spawned, warmed up, and giving the same document as a
render in the worker's own process."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path

import pytest
from pypdf import PdfReader

from activities.documents import DocumentRenderer
from activities.pdf_engine import BUILTIN_TEMPLATES
from settings import Settings
from starter.devstack.samples import sample_context
from tests.helpers import pdf_text
from tests.render_child import imported
from worker import pdf_executor


async def test_an_invoice_rendered_in_a_render_process_reads_the_same() -> None:
    context = sample_context("ro", "invoice", 15)
    async with pdf_executor(1) as processes:
        in_process = await DocumentRenderer(processes).render_pdf("pdf/invoice.html", context)
    on_thread = await DocumentRenderer().render_pdf("pdf/invoice.html", context)

    assert len(PdfReader(io.BytesIO(in_process)).pages) == 1
    text = pdf_text(in_process)
    assert "FACTURĂ" in text and "IAV-2026-00042" in text and "Total de plată" in text
    assert text == pdf_text(on_thread)


async def test_a_render_process_uses_the_override_folder_it_is_given(tmp_path: Path) -> None:
    """The override folder reaches the render processes as an argument (from Settings),
    not through the environment, which they do not read."""
    house = (BUILTIN_TEMPLATES / "pdf" / "base.css").read_text(encoding="utf-8")
    (tmp_path / "pdf").mkdir()
    (tmp_path / "pdf" / "base.css").write_text(
        house + 'h1::after { content: " (copie)"; }', encoding="utf-8"
    )
    context = sample_context("ro", "invoice")
    async with pdf_executor(1, tmp_path) as processes:
        pdf = await DocumentRenderer(processes, tmp_path).render_pdf("pdf/invoice.html", context)
    assert "FACTURĂ (copie)" in pdf_text(pdf)


async def test_a_render_process_imports_weasyprint_and_not_the_worker() -> None:
    """Spawned processes import their parent's main module (here pytest, in production the
    worker with Temporal, asyncpg and every activity) unless the worker keeps it from them:
    tens of MiB per render process."""
    heavy = ["temporalio", "asyncpg", "jinja2", "worker", "activities.invoices", "_pytest"]
    async with pdf_executor(1) as processes:
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(processes, imported, [*heavy, "weasyprint"])
    assert found == ["weasyprint"]


def test_render_processes_default_to_one_per_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("Q2C_RENDER_PROCESSES", raising=False)
    assert Settings.from_env().render_processes == (os.cpu_count() or 1)
    monkeypatch.setenv("Q2C_RENDER_PROCESSES", "0")
    assert Settings.from_env().render_processes == 0
