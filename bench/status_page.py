"""Benchmark: /status/ and /api/v2/summary.json from the portal's web process,
beside Debian's nginx serving the same bytes from files, in one run.

    .venv/bin/python bench/status_page.py [--duration 15] [--connections 64]

Needs `wrk` and `nginx` (apt-get install -y wrk nginx). Both servers run as many
processes as `runportal` gives the web (WEB_CONCURRENCY) on 127.0.0.1; wrk uses 2 threads and 64 connections. Prints
requests/s and p99 per URL and the portal/nginx throughput ratio.
Targets: ratio >= 0.25, p99 <= 20 ms.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _portal  # noqa: E402
from _report import result  # noqa: E402

WRK_DONE = """
done = function(summary, latency, requests)
  io.write(string.format("RESULT {\\"requests\\": %d, \\"duration_us\\": %d, \\"errors\\": %d, \\"non_2xx\\": %d, \\"p50_us\\": %d, \\"p99_us\\": %d}\\n",
    summary.requests, summary.duration, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(99)))
end
"""

NGINX_CONF = """
worker_processes {workers};
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  types {{ text/html html; application/json json; }}
  server {{
    listen 127.0.0.1:{port};
    root {root}/www;
    location = /status/ {{ default_type "text/html; charset=utf-8"; try_files /status.html =404; }}
    location = /api/v2/summary.json {{ default_type application/json; try_files /summary.json =404; }}
  }}
}}
"""


def wrk(url: str, duration: int, connections: int, script: Path) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "-s", str(script), url], capture_output=True, text=True, check=True
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    r = json.loads(line[len("RESULT ") :])
    return {
        "rps": r["requests"] / (r["duration_us"] / 1e6),
        "p50_ms": r["p50_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000,
        "errors": r["errors"] + r["non_2xx"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--data-dir", default=tempfile.mkdtemp(prefix="status-bench-"))
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            sys.exit(f"{tool} is not installed: apt-get install -y wrk nginx")
    _portal.raise_nofile()
    redis_process = _portal.setup_django(args.data_dir)
    from incidents.public import rebuild

    rebuild.rebuild()

    root = Path(args.data_dir) / "nginx"
    (root / "www").mkdir(parents=True, exist_ok=True)
    portal_port, nginx_port = _portal.free_port(), _portal.free_port()
    web = _portal.start_web(portal_port)
    # nginx serves exactly the bytes the portal serves.
    (root / "www" / "status.html").write_bytes(urllib.request.urlopen(f"http://127.0.0.1:{portal_port}/status/").read())
    (root / "www" / "summary.json").write_bytes(urllib.request.urlopen(f"http://127.0.0.1:{portal_port}/api/v2/summary.json").read())
    from portal.management.commands.runportal import web_workers

    workers = web_workers()
    # nginx started as root serves through unprivileged workers: the temporary
    # directory (0700) would answer 403 to every request, a meaningless baseline.
    for folder in (Path(args.data_dir), root, root / "www"):
        folder.chmod(0o755)
    (root / "nginx.conf").write_text(NGINX_CONF.format(root=root, port=nginx_port, workers=workers))
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
    nginx = subprocess.Popen([nginx_bin, "-c", str(root / "nginx.conf"), "-p", str(root)], stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    script = root / "done.lua"
    script.write_text(WRK_DONE)
    try:
        sizes = {p: len((root / "www" / f).read_bytes()) for p, f in [("/status/", "status.html"), ("/api/v2/summary.json", "summary.json")]}
        print(f"bodies: /status/ {sizes['/status/']} bytes, /api/v2/summary.json {sizes['/api/v2/summary.json']} bytes")
        print(f"wrk -t2 -c{args.connections} -d{args.duration}s; {workers} portal web process(es), {workers} nginx worker(s)\n")
        print(f"{'url':28} {'server':7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
        for path in ["/status/", "/api/v2/summary.json"]:
            results = {}
            for name, port in [("portal", portal_port), ("nginx", nginx_port)]:
                r = wrk(f"http://127.0.0.1:{port}{path}", args.duration, args.connections, script)
                results[name] = r
                print(f"{path:28} {name:7} {r['rps']:9.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['errors']:7.0f}")
            if any(results[name]["errors"] for name in results):
                sys.exit(f"{path}: a server answered errors, so the comparison would mean nothing; see {root}/error.log")
            ratio = results["portal"]["rps"] / results["nginx"]["rps"]
            ok = ratio >= 0.25 and results["portal"]["p99_ms"] <= 20
            print(f"{path:28} ratio portal/nginx = {ratio:.2f}  (target >= 0.25, p99 <= 20 ms: {'met' if ok else 'NOT met'})\n")
            result(f"status page {path}", f"ratio {ratio:.2f} of nginx, p99 {results['portal']['p99_ms']:.1f} ms",
                   "ratio >= 0.25, p99 <= 20 ms", ok)  # fmt: skip
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
        _portal.stop(web)
        from portal import embedded_redis

        embedded_redis.stop(redis_process)


if __name__ == "__main__":
    main()
