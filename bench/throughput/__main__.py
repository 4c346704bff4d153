"""python -m bench.throughput [flags]: run the benchmark, write bench/results/ (see --help)."""

from __future__ import annotations

import argparse
import sys

from bench.throughput import procs, report, runner
from bench.throughput.config import ENGINES, BenchSettings


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def _durations(text: str) -> dict[int, float]:
    """ "1000=3,100=5": per-level durations overriding --duration."""
    pairs = (part.split("=", 1) for part in text.split(",") if part.strip())
    return {int(level): float(seconds) for level, seconds in pairs}


def parse(argv: list[str]) -> BenchSettings:
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description="Closed-loop throughput of salesaga, DBOS Transact and a plain httpx script "
        "against one Zoho sandbox with a fixed latency per call.",
    )
    parser.add_argument(
        "--levels",
        type=_ints,
        default=(1, 10, 100, 1000),
        help="concurrency levels, comma-separated (default 1,10,100,1000)",
    )
    parser.add_argument(
        "--duration", type=float, default=4.0, help="seconds per level (default 4); 0 with --sales"
    )
    parser.add_argument(
        "--level-duration",
        type=_durations,
        default={},
        help='per-level seconds overriding --duration, e.g. "1000=3"',
    )
    parser.add_argument(
        "--sales",
        type=int,
        default=0,
        help="sales per level instead of a duration (with --duration 0)",
    )
    parser.add_argument(
        "--delay-ms",
        type=float,
        default=20.0,
        help="latency injected into every Zoho call (default 20)",
    )
    parser.add_argument(
        "--engines",
        default=",".join(ENGINES),
        help="which engines, comma-separated (default plain,dbos,salesaga)",
    )
    parser.add_argument("--workers", type=int, default=1, help="salesaga worker processes")
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=4,
        help="Celery threads per salesaga worker (default 4)",
    )
    parser.add_argument("--beat", action="store_true", help="also run celery beat for salesaga")
    parser.add_argument(
        "--sync-wait",
        type=float,
        default=120.0,
        help="salesaga's SYNC_WAIT_S for /createSales (default 120)",
    )
    parser.add_argument(
        "--level-cap",
        type=float,
        default=75.0,
        help="seconds after which a level's unfinished sales are cancelled as errors (75)",
    )
    parser.add_argument("--warmup", type=int, default=20, help="warm-up sales per engine")
    parser.add_argument(
        "--scale",
        action="store_true",
        help="also: N sales at once against salesaga, drain with 1, 2, 4 workers",
    )
    parser.add_argument("--scale-only", action="store_true", help="only the --scale part")
    parser.add_argument("--scale-sales", type=int, default=1000)
    parser.add_argument("--scale-workers", type=_ints, default=(1, 2, 4))
    parser.add_argument(
        "--scale-starters",
        type=int,
        default=100,
        help="POST /createSales in flight while starting the scale sales",
    )
    parser.add_argument(
        "--no-statements",
        action="store_true",
        help="do not count SQL statements (no sitecustomize hook)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only; write no files")
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs")
    args = parser.parse_args(argv)
    engines = tuple(e for e in args.engines.split(",") if e)
    unknown = set(engines) - set(ENGINES)
    if unknown:
        parser.error(f"unknown engine(s): {', '.join(sorted(unknown))}")
    if args.duration <= 0 and args.sales <= 0:
        parser.error("give --duration > 0 or --sales > 0")
    settings = BenchSettings(
        levels=args.levels, duration_s=args.duration, sales=args.sales,
        max_duration_s=args.level_duration, delay_s=args.delay_ms / 1000,
        engines=() if args.scale_only else engines, workers=args.workers,
        worker_concurrency=args.worker_concurrency, beat=args.beat, sync_wait_s=args.sync_wait,
        level_cap_s=args.level_cap,
        warmup=args.warmup, scale=args.scale or args.scale_only, scale_sales=args.scale_sales,
        scale_workers=args.scale_workers, scale_starters=args.scale_starters,
        count_statements=not args.no_statements, write=not args.no_write,
        keep_logs=args.keep_logs,
    )  # fmt: skip
    return settings


def main(argv: list[str] | None = None) -> int:
    settings = parse(sys.argv[1:] if argv is None else argv)
    procs.install_cleanup()
    try:
        results = runner.run_all(settings)
    except KeyboardInterrupt:
        print("interrupted: stopping every process started", file=sys.stderr)
        procs.stop_all()
        return 130
    finally:
        procs.stop_all()
    if results["engines"]:
        print(report.markdown_table(results))
        print(report.cpu_table(results))
    if results.get("scale"):
        print(report.scale_table(results))
    if settings.write:
        path = report.write(results)
        print(f"\nwrote {path}, latest.json and throughput.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
