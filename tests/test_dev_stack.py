"""`make run` (`q2c dev`) as a user runs it: the whole embedded stack starts in a fresh
folder, `q2c demo` drives a proposal to paid through it, and Ctrl-C stops every part.

Each port the stack opens is moved to a free one (Q2C_API_PORT, Q2C_METRICS_PORT,
Q2C_DEV_*_PORT), so this runs beside the other tests and beside a `make run`.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

STARTUP_SECONDS = 240.0
STOP_SECONDS = 120.0
DEMO_SECONDS = 300.0
ROOT = Path(__file__).resolve().parent.parent


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            sockets.append(probe)
        return [probe.getsockname()[1] for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


def _stack_env(state: Path) -> dict[str, str]:
    # What a user's shell would have: none of the settings other tests or CI may have set.
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("Q2C_", "TEMPORAL_", "SMTP_", "DATABASE_URL", "MIGRATION_"))
    }
    api, metrics, temporal, ui, smtp, spv = _free_ports(6)
    env |= {
        "Q2C_HOME": str(state),
        "Q2C_API_PORT": str(api),
        "Q2C_METRICS_PORT": str(metrics),
        "Q2C_DEV_TEMPORAL_PORT": str(temporal),
        "Q2C_DEV_TEMPORAL_UI_PORT": str(ui),
        "Q2C_DEV_SMTP_PORT": str(smtp),
        "Q2C_DEV_SPV_PORT": str(spv),
        "PYTHONUNBUFFERED": "1",
    }
    return env


def _gone(pid: int, seconds: float = 15.0) -> bool:
    """Whether the process ended (a zombie counts: only its parent could still reap it)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.2)
    return False


def _read_until(process: subprocess.Popen[str], marker: str, seconds: float) -> str:
    """Everything the process printed up to and including the line after `marker`'s block."""
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    printed: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not selector.select(timeout=1.0):
            if process.poll() is not None:
                break
            continue
        line = process.stdout.readline()
        if not line:
            break
        printed.append(line)
        if marker in line:
            return "".join(printed)
    raise AssertionError(f"no {marker!r} within {seconds}s; printed:\n{''.join(printed)}")


def test_make_run_starts_everything_the_demo_pays_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    state = tmp_path / "q2c-home"
    env = _stack_env(state)
    process = subprocess.Popen(
        [sys.executable, "-m", "starter.cli.main", "dev"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        banner = _read_until(process, "API key", STARTUP_SECONDS)
        api = f"http://localhost:{env['Q2C_API_PORT']}"
        assert f"API          {api}" in banner
        assert f"Temporal UI  http://localhost:{env['Q2C_DEV_TEMPORAL_UI_PORT']}" in banner
        assert f"127.0.0.1:{env['Q2C_DEV_SMTP_PORT']}" in banner
        assert f"127.0.0.1:{env['Q2C_DEV_SPV_PORT']}" in banner

        assert httpx.get(f"{api}/healthz", timeout=10).status_code == 200
        ui = httpx.get(f"http://localhost:{env['Q2C_DEV_TEMPORAL_UI_PORT']}/", timeout=10)
        assert ui.status_code == 200
        # The UI, on its moved port, may still ask the API to decode payloads.
        ui_origin = f"http://localhost:{env['Q2C_DEV_TEMPORAL_UI_PORT']}"
        preflight = httpx.options(
            f"{api}/codec/decode",
            headers={"Origin": ui_origin, "Access-Control-Request-Method": "POST"},
            timeout=10,
        )
        assert preflight.headers.get("access-control-allow-origin") == ui_origin
        metrics = httpx.get(f"http://localhost:{env['Q2C_METRICS_PORT']}/metrics", timeout=10)
        assert "q2c_" in metrics.text

        # The README's next step after `make run`: the demo, from the same folder's state.
        demo = subprocess.run(
            [sys.executable, "-m", "starter.cli.main", "demo"],
            cwd=ROOT,
            env=env
            | {
                "Q2C_API_URL": api,
                "TEMPORAL_ADDRESS": f"localhost:{env['Q2C_DEV_TEMPORAL_PORT']}",
                "Q2C_TEMPORAL_UI_URL": ui_origin,
            },
            capture_output=True,
            text=True,
            timeout=DEMO_SECONDS,
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "paid" in demo.stdout
        # What the Temporal UI shows of the demo's invoice, read back from the dev server.
        assert f"{ui_origin}/namespaces/default/workflows/invoice-" in demo.stdout
        summary = next(line for line in demo.stdout.splitlines() if "summary:" in line)
        assert "INV-" in summary or "draft invoice" in summary, demo.stdout
        assert "paid" in demo.stdout.split("In the Temporal UI:")[1]

        temporal_pid = int((state / "temporal.pid").read_text())
        postgres_pid = int((state / "pg" / "postmaster.pid").read_text().splitlines()[0])
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=STOP_SECONDS)
        assert process.returncode == 0, rest
        assert "q2c: stopped" in rest
        # pg_ctl's wait ends when the pid file is gone, a moment before the postmaster is.
        assert not (state / "pg" / "postmaster.pid").exists()
        assert _gone(temporal_pid) and _gone(postgres_pid)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
