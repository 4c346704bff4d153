"""Results: ratios to the plain engine, console lines, JSON files, the plot, a Markdown table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.throughput.config import ENGINES, RESULTS

RATIO_FIGURES = ("sales_per_s", "p50_ms", "p95_ms", "p99_ms", "overhead_ms_per_call")
LABELS = {"plain": "(a) plain httpx", "dbos": "(b) DBOS Transact", "salesaga": "(c) salesaga"}


def _by_level(engine: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {int(level["concurrency"]): level for level in engine.get("levels", [])}


def add_ratios(results: dict[str, Any]) -> None:
    """Each level's figures divided by the plain engine's at the same concurrency."""
    base = _by_level(results["engines"].get("plain", {}))
    for engine in results["engines"].values():
        for concurrency, level in _by_level(engine).items():
            ref = base.get(concurrency)
            if ref is None:
                continue
            ratios = {name: _ratio(level.get(name), ref.get(name)) for name in RATIO_FIGURES}
            ratios["cpu_ms_per_sale_total"] = _ratio(engine_cpu(level), engine_cpu(ref))
            level["ratio_to_plain"] = ratios


def engine_cpu(level: dict[str, Any]) -> float:
    """CPU the engine itself spends a sale: every process but the sandbox and the load client,
    and PostgreSQL's backends of the engine's database."""
    if "engine_cpu_ms_per_sale" in level:  # only the total was kept
        return float(level["engine_cpu_ms_per_sale"])
    cpu: dict[str, float] = level.get("cpu_ms_per_sale", {})
    skip = {"sandbox", "client", "postgres_all"}
    return round(sum(v for k, v in cpu.items() if k not in skip), 3)


def _ratio(value: object, reference: object) -> float | None:
    if not isinstance(value, int | float) or not isinstance(reference, int | float):
        return None
    return round(value / reference, 2) if reference else None


def level_line(level: dict[str, Any]) -> str:
    errors = f"  errors {level['errors']}: {level['error_kinds']}" if level["errors"] else ""
    errors += f"  DISTURBED: {level['disturbed']}" if level.get("disturbed") else ""
    return (
        f"c={level['concurrency']:<5} {level['sales_per_s']:>8.1f} sales/s  "
        f"p50 {level['p50_ms']} p95 {level['p95_ms']} p99 {level['p99_ms']} ms  "
        f"engine CPU {engine_cpu(level)} ms/sale  commits {level.get('commits_per_sale')}  "
        f"stmts {level.get('statements_per_sale', 'n/a')}  ok {level['ok']}{errors}"
    )


def write(results: dict[str, Any], directory: Path = RESULTS) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = results["started_at"].replace(":", "").replace("-", "").replace("+0000", "Z")
    path = directory / f"{stamp}.json"
    text = json.dumps(results, indent=2, sort_keys=False) + "\n"
    path.write_text(text)
    (directory / "latest.json").write_text(text)
    plot(results, directory / "throughput.png")
    return path


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name in ENGINES:
        levels = sorted(_by_level(results["engines"].get(name, {})).items())
        if not levels:
            continue
        xs = [c for c, _ in levels]
        left.plot(xs, [lv["sales_per_s"] for _, lv in levels], marker="o", label=LABELS[name])
        right.plot(xs, [lv["p50_ms"] or float("nan") for _, lv in levels], marker="o",
                   label=LABELS[name])  # fmt: skip
    delay_ms = results["settings"]["delay_s"] * 1000
    for axis, title, unit in ((left, "Throughput", "sales/s"), (right, "Median latency", "ms")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        axis.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        axis.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        axis.set_xlabel("concurrency (sales in flight, closed loop)")
        axis.set_ylabel(unit)
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    cpus = results["machine"]["cpus"]
    figure.suptitle(f"{delay_ms:g} ms per Zoho call, {cpus} cores, one run "
                    f"({results['started_at']})")  # fmt: skip
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def markdown_table(results: dict[str, Any]) -> str:
    """The results table of docs/performance.md."""
    head = ("| engine | c | sales/s | p50 ms | p95 ms | p99 ms | overhead ms/call | "
            "engine CPU ms/sale | PG own CPU ms/sale | commits/sale | statements/sale | "
            "errors | sales/s ÷ (a) | p50 ÷ (a) |")  # fmt: skip
    rows = [head, "|" + "---|" * 14]
    for name in ENGINES:
        for level in results["engines"].get(name, {}).get("levels", []):
            cpu = level.get("cpu_ms_per_sale", {})
            ratio = level.get("ratio_to_plain", {})
            rows.append(
                f"| {LABELS[name]} | {level['concurrency']} | {level['sales_per_s']} | "
                f"{level['p50_ms']} | {level['p95_ms']} | {level['p99_ms']} | "
                f"{level.get('overhead_ms_per_call')} | {engine_cpu(level)} | "
                f"{cpu.get('postgres_own', 'n/a')} | {level.get('commits_per_sale')} | "
                f"{level.get('statements_per_sale', 'n/a')} | {level['errors']} | "
                f"{ratio.get('sales_per_s')} | {ratio.get('p50_ms')} |"
            )
    return "\n".join(rows)


def cpu_table(results: dict[str, Any]) -> str:
    """CPU ms per sale and peak RSS per process, per engine and level."""
    rows = ["| engine | c | CPU ms/sale by process | peak RSS MB |", "|---|---|---|---|"]
    for name in ENGINES:
        for level in results["engines"].get(name, {}).get("levels", []):
            cpu = ", ".join(f"{k} {v}" for k, v in level.get("cpu_ms_per_sale", {}).items())
            rss = ", ".join(f"{k} {v}" for k, v in level.get("peak_rss_mb", {}).items())
            cpu = cpu or f"n/a (engine total {engine_cpu(level)})"
            rows.append(f"| {LABELS[name]} | {level['concurrency']} | {cpu} | {rss or 'n/a'} |")
    return "\n".join(rows)


def scale_table(results: dict[str, Any]) -> str:
    """The --scale runs: drain time per worker count, and what the checks found."""
    head = ("| workers | sales | all started after s | drained after s | sales/s | statuses | "
            "one Deal+Quote+Order | duplicated | ok |")  # fmt: skip
    rows = [head, "|" + "---|" * 9]
    for run in results.get("scale", []):
        census = run["census"]
        rows.append(
            f"| {run['workers']} | {run['sales']} | {run['all_started_s']} | {run['drain_s']} | "
            f"{run['sales_per_s']} | {run['statuses']} | {census['with_one_deal_quote_order']} | "
            f"{census['duplicated_records']} | {run['ok']} |"
        )
    return "\n".join(rows)
