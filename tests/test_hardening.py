"""The web edges hardened (issue 13, point 5): what reaches a PDF, an email, a page, a
number series and a log line is bounded and cannot be turned against the system."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

from activities.pdf_engine import BUILTIN_TEMPLATES, write_pdf
from tests.helpers import pdf_text


class _Listener:
    """A local TCP socket that counts the connections made to it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def test_the_pdf_fetcher_reads_only_data_urls_and_the_templates_folder(tmp_path: Path) -> None:
    secret = tmp_path / "secret.css"
    secret.write_text('body::after { content: "TOPSECRET" }', encoding="utf-8")
    listener = _Listener()
    try:
        html = (
            "<!doctype html><html><head><meta charset='utf-8'>"
            f"<link rel='stylesheet' href='{secret.as_uri()}'>"
            f"<link rel='stylesheet' href='http://127.0.0.1:{listener.port}/x.css'>"
            "</head><body><h1>Hello</h1>"
            f"<img src='http://127.0.0.1:{listener.port}/latest/meta-data'>"
            "<img src='http://169.254.169.254/latest/meta-data/'>"
            "<img src='file:///etc/passwd'>"
            "</body></html>"
        )
        text = pdf_text(write_pdf(html, str(BUILTIN_TEMPLATES)))
        text_override = pdf_text(write_pdf(html, str(BUILTIN_TEMPLATES), str(tmp_path)))
    finally:
        listener.close()
    assert "Hello" in text and "Hello" in text_override
    # A file outside the templates folder is not read, even inside the override folder's
    # parent; a local socket sees no connection.
    assert "TOPSECRET" not in text
    assert listener.connections == 0


def test_a_file_in_the_override_folder_is_still_fetched(tmp_path: Path) -> None:
    (tmp_path / "pdf").mkdir()
    (tmp_path / "pdf" / "extra.css").write_text(
        'h1::after { content: " OVERRIDDEN" }', encoding="utf-8"
    )
    html = (
        "<!doctype html><html><head>"
        f"<link rel='stylesheet' href='{(tmp_path / 'pdf' / 'extra.css').as_uri()}'>"
        "</head><body><h1>Hello</h1></body></html>"
    )
    assert "OVERRIDDEN" in pdf_text(write_pdf(html, str(BUILTIN_TEMPLATES), str(tmp_path)))
    assert "OVERRIDDEN" not in pdf_text(write_pdf(html, str(BUILTIN_TEMPLATES)))
