"""The wheel users install: it ships py.typed (so their type checkers see awaken's types), the
SQL files the store loads, the web UI's files the admin app serves, and the `awaken` command;
`python -m awaken` is the same command."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

from hatchling.builders.wheel import WheelBuilder

REPO = Path(__file__).resolve().parents[2]


def test_the_wheel_ships_py_typed_and_the_sql(tmp_path: Path) -> None:
    (wheel,) = WheelBuilder(str(REPO)).build(directory=str(tmp_path), versions=["standard"])
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "awaken/py.typed" in names
    assert "awaken/__main__.py" in names
    assert "awaken/storage/sqlite/queries.sql" in names and "awaken/storage/sqlite/schema.sql" in names
    assert any(n.startswith("awaken/storage/sqlite/migrations/0001_") for n in names)
    # the web UI: every file the page loads, and every module it imports, is in the wheel
    ui = REPO / "src" / "awaken" / "admin" / "ui"
    shipped = {f"awaken/admin/ui/{p.name}" for p in ui.iterdir() if p.is_file()}
    assert {"awaken/admin/ui/index.html", "awaken/admin/ui/app.js", "awaken/admin/ui/style.css"} <= shipped
    assert shipped <= names
    for module in ui.glob("*.js"):
        for imported in re.findall(r'from "\./([\w.-]+)"', module.read_text(encoding="utf-8")):
            assert f"awaken/admin/ui/{imported}" in names, f"{module.name} imports {imported}"
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "awaken = awaken.cli.main:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "Provides-Extra: otel" in metadata


def test_python_dash_m_awaken() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "awaken", "--version"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout.startswith("awaken, version ")
