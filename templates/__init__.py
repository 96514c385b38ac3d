"""The built-in Jinja2 templates (PDFs, emails, web pages per locale) and their fonts.

Data, not code: shipped as package data so an installed q2c finds them beside this file.
Imported by activities (rendering) and the HTTP API (pages); imports nothing of q2c's.
"""

from pathlib import Path

TEMPLATES_DIR = Path(__file__).resolve().parent
