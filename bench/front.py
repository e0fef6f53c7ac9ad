"""Hostile clients against `supervise serve`, directly and behind the nginx front.

    .venv/bin/python bench/front.py [--slow 50] [--logins 48] [--before DIR]

On a small region (tests/web/conftest.py), in a throwaway folder:

1. ``--slow`` clients trickle their headers (one byte a second) to gunicorn
   directly, then to Debian's nginx in front of it (``supervise front nginx``);
   meanwhile /healthz is asked five times with a 1 s deadline. Reports how many
   answered and the slowest answer, each way. Baseline: /healthz with no slow client.
2. ``--logins`` wrong-password logins for one real user at the same instant, with
   the worker's resident memory sampled every 10 ms: before and peak.
3. Twenty logins each with an unknown name and with a known name's wrong
   password, one after the other: the median time of each and their ratio (1.0:
   the answer tells nothing about who exists).

``--before DIR`` runs ``supervise serve`` from another checkout (e.g. a
``git worktree`` of an older commit), to measure what it did. Results go to
stdout as JSON. A measurement, not a test: the tests with bounds are
tests/web/test_front.py and tests/web/test_sessions.py.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.base.settings import Settings
from app.front import nginx_site
from tests.web.conftest import PASSWORD, make_region
from tests.web.served import (
    SlowClients,
    free_port,
    log_in,
    nginx_front,
    parallel_logins,
    peak_rss_during,
    supervise_serve,
    timed_get,
)

MIB = 1024 * 1024


def healthz_under(base: str, port: int, slow: int) -> dict:
    with SlowClients(port, slow) if slow else _nothing():
        time.sleep(1.0)  # the slow ones settle in
        answers = [timed_get(base + "/healthz", timeout=1.0) for _ in range(5)]
    return {
        "answered_within_1s": sum(1 for s, t in answers if s == 200 and t < 1.0),
        "asked": len(answers),
        "slowest_s": round(max(t for _, t in answers), 3),
    }


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def login_timing(base: str, known: str, rounds: int = 20) -> dict:
    unknown_times, known_times = [], []
    for n in range(rounds):
        for name, times in ((f"nobody-{n}", unknown_times), (known, known_times)):
            started = time.perf_counter()
            log_in(base, name, "not the password")
            times.append(time.perf_counter() - started)
    unknown_ms, known_ms = 1000 * statistics.median(unknown_times), 1000 * statistics.median(known_times)
    return {
        "unknown_name_ms": round(unknown_ms, 1),
        "wrong_password_ms": round(known_ms, 1),
        "ratio": round(unknown_ms / known_ms, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slow", type=int, default=50, help="Slow clients.")
    parser.add_argument("--logins", type=int, default=48, help="Parallel wrong-password logins.")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker.")
    parser.add_argument("--before", type=Path, help="Run `supervise serve` from this checkout instead.")
    args = parser.parse_args()
    out: dict = {
        "slow_clients": args.slow,
        "workers": args.workers,
        "threads": args.threads,
        "code": str(args.before or ROOT),
    }
    with tempfile.TemporaryDirectory() as folder:
        var = Path(folder) / "var"
        var.mkdir()
        make_region(Settings(var_dir=var)).engine.dispose()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SUPERVISE_")}
        env.update(SUPERVISE_VAR_DIR=str(var))
        cwd = None
        if args.before:
            env["PYTHONPATH"], cwd = str(args.before), str(args.before)
        else:  # measure the hashing, not the lock; believe the front's client address
            env.update(
                SUPERVISE_LOGIN_USER_FAILURES="1000",
                SUPERVISE_LOGIN_ADDR_FAILURES="100000",
                SUPERVISE_TRUSTED_PROXIES="127.0.0.1",
            )
        with supervise_serve(env, workers=args.workers, threads=args.threads, cwd=cwd) as (upstream, master):
            port = int(upstream.rsplit(":", 1)[1])
            out["healthz_no_slow_client"] = healthz_under(upstream, port, 0)
            out["healthz_direct_to_gunicorn"] = healthz_under(upstream, port, args.slow)
            time.sleep(2)
            front_port = free_port()
            with nginx_front(
                nginx_site(str(front_port), upstream.removeprefix("http://")), Path(folder) / "nginx", front_port
            ) as front:
                out["healthz_behind_nginx"] = healthz_under(front, front_port, args.slow)
                _, status = log_in(front, "region-user", PASSWORD)
                out["login_behind_nginx_under_slow_clients"] = status
            out["login_timing"] = login_timing(upstream, "city-user")
            names = ["region-user"] * args.logins  # a real user's hash: the old code skipped unknown names
            statuses: list[int] = []
            before, peak = peak_rss_during(
                master.pid, lambda: statuses.extend(parallel_logins(upstream, names, "guess"))
            )
            out["parallel_wrong_logins"] = {
                "count": args.logins,
                "rss_before_mib": round(before / MIB),
                "rss_peak_mib": round(peak / MIB),
                "statuses": {str(s): statuses.count(s) for s in sorted(set(statuses))},
            }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
