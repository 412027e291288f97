"""`python -m bench` runs every benchmark; `python -m bench NAME [NAME...]` runs those.

Each benchmark prints its raw figures and one `RESULT <name>: ratio=... target=... PASS|MISS`
line. The exit status is 1 when a benchmark misses its target or fails to run.
"""

import importlib
import sys
import time
import traceback

from bench import common

BENCHMARKS = [
    "email_drain",
    "signup_throughput",
    "queue_page",
    "bulk_approve",
    "decision",
    "signup_queue_size",
]


def main(argv: list[str]) -> int:
    unknown = [name for name in argv if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
        return 2
    started = time.monotonic()
    common.setup()
    lines, failed = [], False
    for name in argv or BENCHMARKS:
        try:
            result = importlib.import_module(f"bench.{name}").run()
        except Exception:
            traceback.print_exc()
            print(f"RESULT {name}: ERROR (see the traceback above)", flush=True)
            lines.append(f"  {name}: ERROR")
            failed = True
            continue
        lines.append(f"  {result.line.removeprefix('RESULT ')}")
        failed = failed or not result.passed
    print(f"\n=== summary ({time.monotonic() - started:.0f}s)")
    print("\n".join(lines))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
