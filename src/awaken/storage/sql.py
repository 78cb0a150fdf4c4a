"""SQL kept in .sql files: named queries and numbered migrations, loaded from a dialect's package.

Each dialect package holds `queries.sql` (sections that start at a `-- name: NAME` line and run to
the next one), `schema.sql` (the whole current schema) and `migrations/NNNN_name.sql`. Every dialect
defines the same query names with the same named parameters (`:name`); the lifecycle rules run
them by name (a test checks that the dialects agree).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import files

_NAME_LINE = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$")
_MIGRATION_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# A named parameter: `:name`, but not the second colon of a PostgreSQL cast (`x::int`).
PARAMETER = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


def parse_queries(text: str) -> dict[str, str]:
    """Split a file of `-- name: NAME` sections into {NAME: statement}."""
    queries: dict[str, str] = {}
    name: str | None = None
    lines: list[str] = []

    def flush() -> None:
        if name is not None:
            statement = "\n".join(line for line in lines if not line.lstrip().startswith("--"))
            statement = statement.strip().rstrip(";").strip()
            if not statement:
                raise ValueError(f"query {name!r} is empty")
            queries[name] = statement

    for line in text.splitlines():
        match = _NAME_LINE.match(line.strip())
        if match:
            flush()
            name = match.group(1)
            if name in queries:
                raise ValueError(f"query {name!r} is defined twice")
            lines = []
        elif name is not None:
            lines.append(line)
    flush()
    return queries


def parameters(statement: str) -> list[str]:
    """The named parameters of a statement, in order of first appearance."""
    seen: dict[str, None] = {}
    for match in PARAMETER.finditer(_without_literals(statement)):
        seen.setdefault(match.group(1), None)
    return list(seen)


def _without_literals(statement: str) -> str:
    # ':' inside a string literal ('$.invocation_id', say) is not a parameter.
    return re.sub(r"'(?:[^']|'')*'", "''", statement)


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_queries(package: str) -> dict[str, str]:
    return parse_queries(files(package).joinpath("queries.sql").read_text("utf-8"))


def load_migrations(package: str) -> list[Migration]:
    """The numbered files of the package's migrations/, in order."""
    out: list[Migration] = []
    for item in files(package).joinpath("migrations").iterdir():
        match = _MIGRATION_FILE.match(item.name)
        if match:
            out.append(Migration(int(match.group(1)), match.group(2), item.read_text("utf-8")))
    out.sort(key=lambda m: m.version)
    versions = [m.version for m in out]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration versions in {package}: {versions}")
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migrations of {package} must be numbered 1, 2, 3...: {versions}")
    return out


def load_schema(package: str) -> str:
    """The package's full current schema (schema.sql)."""
    return files(package).joinpath("schema.sql").read_text("utf-8")
