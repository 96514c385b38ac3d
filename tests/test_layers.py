"""Imports go downward only (DESIGN.md): a module may import q2c modules of its own layer's
allowed set and nothing above it. Read from the source with `ast`, so a lazy import inside a
function counts as much as one at the top of a module."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What each part of q2c may import of q2c itself (besides its own modules).
ALLOWED: dict[str, set[str]] = {
    "domain": set(),
    "templates": set(),
    "messages": {"domain"},
    "settings": {"domain"},
    "temporal_connection": {"settings"},
    "db": {"domain", "messages", "settings"},
    "workflows": {"domain", "messages"},
    "activities": {"domain", "messages", "settings", "db", "templates", "workflows"},
    "worker": {
        "domain",
        "messages",
        "settings",
        "temporal_connection",
        "db",
        "templates",
        "workflows",
        "activities",
    },
    "starter": set(),
    "starter.api": {
        "domain",
        "messages",
        "settings",
        "temporal_connection",
        "db",
        "templates",
        "workflows",
        "activities",
    },
    "starter.cli": {"domain", "settings", "temporal_connection", "starter.devstack", "worker"},
    "starter.devstack": {
        "domain",
        "messages",
        "settings",
        "temporal_connection",
        "db",
        "templates",
        "workflows",
        "activities",
        "worker",
        "starter.api",
    },
}
PARTS = sorted(ALLOWED, key=len, reverse=True)


def part_of(module: str) -> str | None:
    for part in PARTS:
        if module == part or module.startswith(part + "."):
            return part
    return None


def module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def imported_modules(path: Path, module: str | None = None) -> set[str]:
    found: set[str] = set()
    package = (module or module_name(path)).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # `from starter import api` names a module too.
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def q2c_sources() -> list[Path]:
    sources = [ROOT / "worker.py", ROOT / "settings.py", ROOT / "temporal_connection.py"]
    for folder in ("domain", "messages", "db", "templates", "workflows", "activities", "starter"):
        sources.extend(sorted((ROOT / folder).rglob("*.py")))
    return sources


def layer_violations() -> list[str]:
    violations = []
    for path in q2c_sources():
        importer = module_name(path)
        own = part_of(importer)
        assert own is not None, f"{importer} belongs to no layer: add it to ALLOWED"
        for imported in sorted(imported_modules(path)):
            target = part_of(imported)
            if target is None or target == own:
                continue
            if target not in ALLOWED[own]:
                violations.append(f"{importer} imports {imported} ({own} -> {target})")
    return violations


def test_every_import_goes_downward() -> None:
    assert layer_violations() == []


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    upward = tmp_path / "upward.py"
    upward.write_text("from activities import mail\nimport starter.api.app\nfrom . import vat\n")
    found = imported_modules(upward, "domain.upward")
    assert "domain.vat" in found
    assert {"activities.mail", "starter.api.app"} <= found
    assert part_of("activities.mail") not in ALLOWED["domain"]
    assert part_of("starter.api.app") == "starter.api"


def test_every_package_says_what_lives_there() -> None:
    packages = [ROOT / name for name in ("domain", "messages", "db", "templates", "workflows")]
    packages += [ROOT / "activities", ROOT / "starter"]
    packages += [init.parent for init in (ROOT / "starter").rglob("__init__.py")]
    for package in packages:
        init = package / "__init__.py"
        docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert docstring and "import" in docstring.lower(), (
            f"{init} needs a docstring with its imports"
        )


# --- every SQL statement lives in db/ (issue 12, point 2) ---------------------------------

# asyncpg's query methods, on a connection or a pool; they are awaited, which tells them
# from same-named methods of other libraries (a URL fetcher's sync `fetch`).
QUERY_METHODS = {"fetch", "fetchrow", "fetchval", "execute", "executemany"}
SQL_STATEMENT = re.compile(
    r"^\s*SELECT\s|\bSELECT\b[\s\S]*\bFROM\b|\bINSERT\s+INTO\b|\bUPDATE\s+\w+\s+SET\b"
    r"|\bDELETE\s+FROM\b|\bON\s+CONFLICT\b"
)


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def sql_outside_db(path: Path) -> list[str]:
    """The lines of `path` that query the database or hold an SQL statement."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = _docstrings(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Await)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Attribute)
            and (node.value.func.attr in QUERY_METHODS or node.value.func.attr.startswith("copy_"))
        ):
            found.append((node.lineno, f"calls .{node.value.func.attr}()"))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and SQL_STATEMENT.search(node.value)
        ):
            found.append((node.lineno, f"holds SQL {node.value.strip()[:40]!r}"))
    return [f"{path.name}:{line} {what}" for line, what in sorted(found)]


def test_no_sql_outside_the_data_access_layer() -> None:
    found = {
        str(path.relative_to(ROOT)): lines
        for path in q2c_sources()
        if part_of(module_name(path)) != "db"
        for lines in [sql_outside_db(path)]
        if lines
    }
    assert found == {}


def test_the_check_sees_sql(tmp_path: Path) -> None:
    source = tmp_path / "route.py"
    source.write_text(
        '"""Reads the SELECT list FROM a docstring, which is prose."""\n'
        "async def route(pool, conn, fetcher):\n"
        "    fetcher.fetch('/a')\n"
        "    await pool.fetchval(query)\n"
        "    await conn.copy_records_to_table('t', records=[])\n"
        "    query = 'SELECT 1'\n"
        "    other = f'UPDATE invoices SET status = {status}'\n"
        '    return """INSERT INTO clients (name)\n VALUES ($1)"""\n'
    )
    assert [line.split(" ", 1)[0] for line in sql_outside_db(source)] == [
        "route.py:4",
        "route.py:5",
        "route.py:6",
        "route.py:7",
        "route.py:8",
    ]


# asyncpg outside db/: the pool and connection types only (app state, deps, worker, dev
# stack). Records and database errors stay in the data-access layer, which hands out typed
# rows (db.rows) and its own exceptions (issue 12 point 2).
ASYNCPG_OUTSIDE_DB = {"Pool", "Connection", "create_pool"}


def raw_database_uses(path: Path) -> list[str]:
    """Each use of asyncpg beyond the pool and connection types, and of `db.store.Row`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules = {"asyncpg"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(
                alias.asname for alias in node.names if alias.name == "asyncpg" and alias.asname
            )
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "asyncpg":
            found += [
                f"{node.lineno}: from {node.module} import {alias.name}"
                for alias in node.names
                if alias.name not in ASYNCPG_OUTSIDE_DB
            ]
        elif isinstance(node, ast.ImportFrom) and node.module == "db.store":
            found += [f"{node.lineno}: db.store.Row" for alias in node.names if alias.name == "Row"]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id in modules and node.attr not in ASYNCPG_OUTSIDE_DB:
                found.append(f"{node.lineno}: asyncpg.{node.attr}")
            elif node.value.id == "store" and node.attr == "Row":
                found.append(f"{node.lineno}: store.Row")
    return found


def test_no_raw_records_outside_the_data_access_layer() -> None:
    found = {
        module_name(path): uses
        for path in q2c_sources()
        if part_of(module_name(path)) != "db"
        if (uses := raw_database_uses(path))
    }
    assert found == {}


def test_the_check_sees_a_raw_record(tmp_path: Path) -> None:
    source = tmp_path / "raw.py"
    source.write_text(
        "import asyncpg as pg\nfrom asyncpg import Record\nfrom db import store\n"
        "from db.store import Row\n"
        "def f(pool: pg.Pool, row: pg.Record, other: store.Row) -> None:\n"
        "    try:\n        pass\n    except pg.UniqueViolationError:\n        pass\n"
    )
    assert raw_database_uses(source) == [
        "2: from asyncpg import Record",
        "4: db.store.Row",
        "5: asyncpg.Record",
        "5: store.Row",
        "8: asyncpg.UniqueViolationError",
    ]


# --- SQL in db/ is written out whole (issue 12): no statement is glued from pieces, so
# each one can be read, searched for and reviewed as the server runs it.
SQL_WORD = re.compile(
    r"\b(SELECT|INSERT|UPDATE|DELETE|FROM|WHERE|VALUES|JOIN|ORDER BY|GROUP BY|FOR UPDATE"
    r"|FOR SHARE|RETURNING|ON CONFLICT|ALTER|CREATE|DROP)\b"
)


def _string_parts(node: ast.AST) -> list[str]:
    """The literal text of a string expression built from pieces."""
    return [
        part.value
        for part in ast.walk(node)
        if isinstance(part, ast.Constant) and isinstance(part.value, str)
    ]


def sql_built_from_pieces(path: Path) -> list[str]:
    """The lines of `path` that build SQL at run time: an f-string, `+` or `%` on strings,
    or `.format()` / `.join()` with SQL in the text."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.JoinedStr):
            how, parts = "f-string", _string_parts(node)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
            how, parts = "+/% on strings", _string_parts(node)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("format", "join")
        ):
            how, parts = f".{node.func.attr}()", _string_parts(node)
        else:
            continue
        if any(SQL_WORD.search(part) for part in parts):
            found.append((node.lineno, how))
    return [f"{path.name}:{line} {how}" for line, how in sorted(set(found))]


def test_no_sql_glued_from_pieces_in_the_data_access_layer() -> None:
    found = {
        str(path.relative_to(ROOT)): lines
        for path in sorted((ROOT / "db").rglob("*.py"))
        if (lines := sql_built_from_pieces(path))
    }
    assert found == {}


def test_the_check_sees_glued_sql(tmp_path: Path) -> None:
    source = tmp_path / "glued.py"
    source.write_text(
        "async def get(conn, table, lock, column, kind):\n"
        '    query = "SELECT * FROM invoices WHERE id = $1" + (" FOR UPDATE" if lock else "")\n'
        '    await conn.execute(f"DELETE FROM {table} WHERE id = $1")\n'
        '    other = "UPDATE {} SET a = 1".format(table)\n'
        '    where = " AND ".join(["a = 1", "b = 2"]) + " ORDER BY id"\n'
        '    again = "SELECT %s FROM t" % column\n'
        '    message = f"{kind} not found"\n'
        '    return "SELECT 1", "q2c_" + kind\n'
    )
    assert [line.split(" ", 1)[0] for line in sql_built_from_pieces(source)] == [
        "glued.py:2",
        "glued.py:3",
        "glued.py:4",
        "glued.py:5",
        "glued.py:6",
    ]


def sql_statements(path: Path) -> list[tuple[str, int]]:
    """The SQL statements `path` holds, white space folded, with their lines."""
    return [
        (" ".join(node.value.split()), node.lineno)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and SQL_STATEMENT.search(node.value)
    ]


def repeated_sql(paths: list[Path]) -> dict[str, list[str]]:
    places: dict[str, list[str]] = {}
    for path in paths:
        for statement, line in sql_statements(path):
            places.setdefault(statement, []).append(f"{path.name}:{line}")
    return {statement: where for statement, where in places.items() if len(where) > 1}


def test_each_statement_is_written_once() -> None:
    """One copy of each query: a second caller calls the function that holds it."""
    assert repeated_sql(sorted((ROOT / "db").rglob("*.py"))) == {}


def test_the_check_sees_a_repeated_statement(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text('Q = "SELECT * FROM invoices WHERE id = $1"\n')
    (tmp_path / "b.py").write_text(
        'R = """SELECT *  FROM invoices\n   WHERE id = $1"""\nS = "SELECT 1 FROM t"\n'
    )
    assert repeated_sql(sorted(tmp_path.glob("*.py"))) == {
        "SELECT * FROM invoices WHERE id = $1": ["a.py:1", "b.py:1"]
    }
