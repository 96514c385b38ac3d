"""Packaging: a wheel built from this tree (what `pip install .` installs, as the Dockerfile
does) carries every package, every template with its fonts and every migration, and an
installed q2c finds its templates and migrations beside its packages."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("domain", "messages", "db", "workflows", "activities", "starter", "templates")
MODULES = ("settings.py", "worker.py", "temporal_connection.py")
# What the Dockerfile copies before `pip install .`: the wheel is built from these alone,
# so a file the build needs and the image lacks fails here too.
BUILD_INPUTS = ("pyproject.toml", "README.md", *MODULES, *PACKAGES)


def _files_under(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            yield path


def _copy_build_inputs(target: Path) -> None:
    """A clean copy, so no `build/` or `*.egg-info` left in the work tree by an earlier
    build can put a deleted file back into the wheel."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in BUILD_INPUTS:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore)
        else:
            shutil.copy2(source, target / name)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    out = tmp_path_factory.mktemp("wheel")
    _copy_build_inputs(source)
    # With build isolation, as `pip install .` in the image: the build backend is the one
    # pyproject.toml asks for (setuptools>=68, which builds wheels by itself), not whatever
    # setuptools the test environment happens to carry.
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        check=True,
        timeout=240,
    )
    (built,) = out.glob("q2c-*.whl")
    return built


def test_the_wheel_carries_every_package_template_and_migration(wheel: Path) -> None:
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        path.relative_to(ROOT).as_posix()
        for package in PACKAGES
        for path in _files_under(ROOT / package)
    } | set(MODULES)
    missing = sorted(expected - in_wheel)
    assert not missing, f"not in the wheel: {missing}"
    # The data that used to be found only next to the source tree, by name.
    for data in (
        "templates/fonts",
        "templates/pdf/base.css",
        "templates/email/ro",
        "templates/pages",
        "db/migrations/",
    ):
        assert any(name.startswith(data) for name in in_wheel), data
    assert any(name.endswith(".ttf") for name in in_wheel)
    assert sum(name.startswith("db/migrations/") for name in in_wheel) == len(
        list((ROOT / "db" / "migrations").glob("*.sql"))
    )
    (entry_points,) = (name for name in in_wheel if name.endswith(".dist-info/entry_points.txt"))
    assert "q2c = starter.cli.main:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_an_installed_q2c_finds_its_templates_and_migrations(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(site),
            str(wheel),
        ],
        check=True,
        timeout=120,
    )
    probe = (
        "from db import MIGRATIONS_DIR; from templates import TEMPLATES_DIR;"
        "from activities.documents import template_environment;"
        "print(MIGRATIONS_DIR); print(TEMPLATES_DIR);"
        "print(len(list(MIGRATIONS_DIR.glob('*.sql'))));"
        "print(template_environment().get_template('pdf/invoice.ro.html').filename)"
    )
    # Run from elsewhere with only the installed copy (and the environment's dependencies)
    # importable: not the source tree.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "Q2C_TEMPLATES_DIR")}
    env["PYTHONPATH"] = str(site)
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    migrations, templates, migration_count, invoice = result.stdout.split("\n")[:4]
    assert Path(migrations) == site / "db" / "migrations"
    assert Path(templates) == site / "templates"
    assert int(migration_count) == len(list((ROOT / "db" / "migrations").glob("*.sql")))
    assert Path(invoice) == site / "templates" / "pdf" / "invoice.ro.html"
