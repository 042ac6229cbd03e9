"""Run the served gateway under cProfile; write the stats (and a text summary) when it stops.

Used as the gateway prefix of bench/transfers.py, which stops the gateway with SIGINT:

    .venv/bin/python bench/transfers.py --seconds 10 --skip-bare \\
        --gateway-prefix ".venv/bin/python bench/profile_gateway.py --out /tmp/gw.prof --"
    .venv/bin/python -m pstats /tmp/gw.prof        # or read /tmp/gw.prof.txt

cProfile sees the main thread only, which is the event loop: every handler, middleware,
SQLAlchemy and pydantic call and the SQLite writer's batches. The group commit's fsync and
SQLAlchemy's own SQLite work (aiosqlite's threads) show here only as the time the loop spends
waiting. Under uvloop the loop's own work is C and shows as `run_app`. Profiling slows the gateway down about
twice, so compare call counts and shares, not absolute throughput. Of the gateway command
transfers.py appends after `--`, the arguments from `serve` on (its `--port`) are kept: this runs
`paygate serve` itself, in this process.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys


def main() -> int:
    argv = sys.argv[1:]
    own = argv[: argv.index("--")] if "--" in argv else argv
    gateway = argv[len(own) :]
    serve = gateway[gateway.index("serve") :] if "serve" in gateway else ["serve"]
    parser = argparse.ArgumentParser(description="paygate serve under cProfile")
    parser.add_argument("--out", required=True, help="where to write the pstats file")
    parser.add_argument("--top", type=int, default=60, help="rows in the text summary")
    args = parser.parse_args(own)

    from gateway.cli import main as paygate

    profile = cProfile.Profile()
    profile.enable()
    try:
        status = paygate(serve)
    finally:
        profile.disable()
        profile.dump_stats(args.out)
        text = io.StringIO()
        stats = pstats.Stats(profile, stream=text).strip_dirs()
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top)
        with open(args.out + ".txt", "w") as f:
            f.write(text.getvalue())
    return status


if __name__ == "__main__":
    sys.exit(main())
