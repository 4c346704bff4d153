"""`salesaga sagas show ID` draws the saga's timeline in the terminal, the same one the console
draws as SVG (orchestrator/views/timeline.py): a row per lane, a cell per slice of time."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from orchestrator.views.timeline import BarKind, MarkKind, Timeline, duration_text
from orchestrator.views.timeline_scale import make_scale
from orchestrator.views.timeline_svg import SYMBOLS

# (character, style) per bar: the shapes differ too, for terminals without colour
CELLS: dict[BarKind, tuple[str, str]] = {
    BarKind.RAN: ("█", "green"),
    BarKind.RETRIED: ("▓", "yellow"),
    BarKind.WAIT: ("·", "yellow"),
    BarKind.CUT_OFF: ("▒", "magenta"),
    BarKind.RUNNING: ("▶", "cyan"),
    BarKind.FAILED: ("█", "bold red"),
    BarKind.UNDONE: ("█", "blue"),
    BarKind.UNDO_RETRIED: ("▓", "blue"),
    BarKind.UNDO_FAILED: ("█", "bold red"),
}
MARK_STYLES = {MarkKind.FAILED: "bold red", MarkKind.NO_UNDO: "bold red",
               MarkKind.TAKEN_OVER: "magenta", MarkKind.OPERATOR: "cyan",
               MarkKind.WEBHOOK: "cyan"}  # fmt: skip
LEGEND = (
    "█ ran  ▓ failed, retried  · backoff wait  ▒ cut off (worker lost) ↻ taken over  "
    "red: failed  blue: undo  ⚠ no undo, left for an operator  ∅ nothing to undo  "
    "⚑ operator  ✉ webhook in  ◆ saga"
)


def timeline_rows(timeline: Timeline, width: int) -> list[tuple[str, Text]]:
    """(lane title, its track of `width` cells) for each lane, top to bottom."""
    scale = make_scale(timeline)

    def at(x: float) -> int:
        return min(width - 1, max(0, int(x * (width - 1) + 0.5)))

    def cell(at_s: float) -> int:
        return at(scale.x(at_s))

    tracks = {lane.key: [(" ", "")] * width for lane in timeline.lanes}
    for cut in scale.cuts:  # nothing happened here: cut short
        for cells in tracks.values():
            cells[at(cut.x0)] = ("≈", "dim")
    for bar in sorted(timeline.bars, key=lambda b: b.kind is not BarKind.WAIT):  # waits first
        char, style = CELLS[bar.kind]
        for i in range(cell(bar.start_s), cell(bar.end_s) + 1):
            tracks[bar.lane][i] = (char, style)
    for mark in timeline.marks:
        tracks[mark.lane][cell(mark.at_s)] = (SYMBOLS[mark.kind], MARK_STYLES.get(mark.kind, ""))
    rows = []
    for lane in timeline.lanes:
        line = Text()
        for char, style in tracks[lane.key]:
            line.append(char, style=style)
        failed = lane.key in timeline.failed_lanes
        rows.append((f"✕ {lane.title}" if failed else lane.title, line))
    return rows


def print_timeline(timeline: Timeline, console: Console | None = None) -> None:
    console = console or Console()
    label_w = max(len(lane.title) for lane in timeline.lanes) + 2
    width = max(20, min(100, console.width - label_w - 4))
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(no_wrap=True)
    span = duration_text(timeline.end_s)
    grid.add_row("", Text(f"0{' ' * max(1, width - len(span) - 2)}+{span}", style="dim"))
    for title, track in timeline_rows(timeline, width):
        grid.add_row(Text(title, style="bold red" if title.startswith("✕") else ""), track)
    console.print(grid)
    console.print(Text(LEGEND, style="dim"))
    steps = Table("when", "lane", "what happened", box=None, show_header=True)
    for at, lane, words in timeline.items():
        steps.add_row(f"+{duration_text(at)}", lane, words)
    console.print(steps)
