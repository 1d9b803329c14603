"""Every benchmark under bench/, one table: path, figure, target, met or missed.

    .venv/bin/python bench/run_all.py            # short durations (a few minutes)
    BENCH_FULL=1 .venv/bin/python bench/run_all.py   # the sizes the targets name
    .venv/bin/python bench/run_all.py --only ingest

Each script runs as its own process, one after the other (they share 2 cores;
running them side by side would measure the contention). Their full output goes
to var/bench/<name>.log; the figures come from their BENCH-RESULT lines
(bench/_report.py). A script that fails or prints no figure shows as an error row.
Needs PostgreSQL and Redis on this machine, `wrk` and `nginx` for the HTTP ones.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from _report import parse  # noqa: E402

# name: (short arguments, full arguments)
BENCHES: dict[str, tuple[list[str], list[str]]] = {
    "status_page": (["--duration", "5"], []),
    "api": (["--seconds", "3", "--warmup", "1"], []),
    "ingest": (["--notifications", "200", "--replay", "1000", "--replay-groups", "100"], []),
    "ingest_redis_down": (["--posts", "500"], []),
    "ws_fanout": (["--steps", "1000,2000", "--rounds", "2"], []),
    "paging": (["--declares", "20", "--storm", "200", "--subscribers", "1000"], []),
    "runbooks": ([], []),
    "probes": (["--probes", "2000", "--interval", "10", "--cycles", "2", "--burst", "2000"], []),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="run only the benchmarks whose name contains this text")
    args = parser.parse_args()
    full = os.environ.get("BENCH_FULL", "") not in ("", "0")
    logs = ROOT / "var" / "bench"
    logs.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str, str, str]] = []
    for name, (short, complete) in BENCHES.items():
        if args.only and args.only not in name:
            continue
        script = HERE / f"{name}.py"
        if not script.exists():
            continue
        command = [sys.executable, str(script), *(complete if full else short)]
        print(f"--- {name}: {' '.join(command[1:])}", flush=True)
        began = time.monotonic()
        found = 0
        with open(logs / f"{name}.log", "w") as log:
            process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            assert process.stdout is not None
            for line in process.stdout:
                log.write(line)
                row = parse(line)
                if row is None:
                    continue
                found += 1
                rows.append((str(row["path"]), str(row["figure"]), str(row["target"]), "met" if row["met"] else "MISSED"))
            code = process.wait()
        if not found:  # a missed target may exit 1 too; that shows in its rows
            rows.append((name, f"exit {code}, no figure", "-", "error"))
        print(f"    ({time.monotonic() - began:.0f}s, log var/bench/{name}.log)", flush=True)

    widths = [max(len(r[i]) for r in [("path", "figure", "target", "result"), *rows]) for i in range(4)]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(("path", "figure", "target", "result"), widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    print(f"\n{'full' if full else 'short'} sizes; BENCH_FULL=1 for the sizes the targets name.")
    return 1 if any(r[3] == "error" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
