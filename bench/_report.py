"""One line per measured figure, read by bench/run_all.py (`make bench`).

A bench script prints its own human-readable output and, for every figure that
has a target, calls `result(...)`, which prints a machine-readable line:

    BENCH-RESULT {"path": "...", "figure": "...", "target": "...", "met": true}
"""

from __future__ import annotations

import json

PREFIX = "BENCH-RESULT "


def result(path: str, figure: str, target: str, met: bool) -> None:
    print(PREFIX + json.dumps({"path": path, "figure": figure, "target": target, "met": bool(met)}), flush=True)


def parse(line: str) -> dict[str, object] | None:
    if not line.startswith(PREFIX):
        return None
    try:
        row = json.loads(line[len(PREFIX):])
    except ValueError:
        return None
    return row if isinstance(row, dict) else None
