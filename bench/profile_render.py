"""Where a warm render's time goes: pyinstrument over warm renders of the 1-page invoice,
each sample's time given to the innermost stage on its stack (template, HTML parsing,
styles, box tree, table column widths, the rest of layout, drawing, the PDF file).

    python -m bench.profile_render [renders]
"""

from __future__ import annotations

import sys
from typing import Any

# (stage, file path fragment, [class.]function); an inner stage takes its time from an outer.
STAGES = (
    ("Jinja2 template", "activities/documents.py", "render_html"),
    ("HTML parsing (tinyhtml5)", "weasyprint/__init__.py", "HTML.__init__"),
    # activities.pdf_engine's subclass, with its own small user-agent stylesheet.
    ("HTML parsing (tinyhtml5)", "weasyprint/__init__.py", "LeanHTML.__init__"),
    ("CSS: stylesheets parsed", "weasyprint/css/__init__.py", "find_stylesheets"),
    ("CSS: cascade, computed styles", "weasyprint/css/__init__.py", "get_all_computed_styles"),
    ("box tree", "weasyprint/formatting_structure/build.py", "build_formatting_structure"),
    ("layout: table column widths", "weasyprint/layout/table.py", "table_wrapper_width"),
    ("layout: pages, rows, lines of text", "weasyprint/layout/__init__.py", "layout_document"),
    ("drawing the page", "weasyprint/document.py", "paint"),
    ("PDF file: objects, fonts, compression", "weasyprint/pdf/__init__.py", "generate_pdf"),
)


def _stage(frame: Any) -> str | None:
    path = frame.file_path or ""
    qualified = f"{frame.class_name}.{frame.function}" if frame.class_name else frame.function
    for name, fragment, function in STAGES:
        if function in (qualified, frame.function) and path.endswith(fragment):
            return name
    return None


def _attribute(frame: Any, current: str, totals: dict[str, float]) -> None:
    stage = _stage(frame) or current
    children = list(frame.children)
    own = frame.time - sum(child.time for child in children)
    totals[stage] = totals.get(stage, 0.0) + own
    for child in children:
        _attribute(child, stage, totals)


def profile_render(renders: int = 20, lines: int = 15) -> dict[str, Any]:
    from pyinstrument import Profiler

    from activities.documents import DocumentRenderer
    from activities.pdf_engine import BUILTIN_TEMPLATES, write_pdf
    from starter.devstack.samples import sample_context

    renderer = DocumentRenderer()
    context = sample_context("ro", "invoice", lines)

    def once() -> None:
        write_pdf(renderer.render_html("pdf/invoice.html", context), str(BUILTIN_TEMPLATES))

    for _ in range(3):
        once()
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(renders):
        once()
    session = profiler.stop()
    root = session.root_frame()
    totals: dict[str, float] = {}
    if root is not None:
        _attribute(root, "other (Python, bench loop)", totals)
    whole = sum(totals.values()) or 1.0
    return {
        "renders": renders,
        "lines": lines,
        "profiler": "pyinstrument",
        "ms_per_render_under_profiler": round(whole * 1000 / renders, 1),
        "stages_percent": {
            stage: round(seconds * 100 / whole, 1)
            for stage, seconds in sorted(totals.items(), key=lambda item: -item[1])
        },
    }


def main() -> None:
    renders = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    figures = profile_render(renders)
    print(f"{figures['ms_per_render_under_profiler']} ms per render under the profiler")
    for stage, percent in figures["stages_percent"].items():
        print(f"  {percent:5.1f} %  {stage}")


if __name__ == "__main__":
    main()
