"""The Grafana dashboard docs/grafana/salesaga.json and the metric names its queries use.

metric_names() reads one PromQL expression the way a person checking it would: label matchers
(`{...}`), ranges (`[...]`), grouping clauses (`by (...)`, `on (...)`, ...), strings and Grafana
variables say nothing about which metrics exist, so they are dropped; what is left is PromQL
(functions called with `(`, aggregations, keywords) or a metric name. A metric name must start
with `salesaga_`: any other word is refused, so a typo or a foreign metric cannot slip through.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

DASHBOARD = Path(__file__).resolve().parents[1] / "docs" / "grafana" / "salesaga.json"
PREFIX = "salesaga_"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


FUNCTIONS = _words(
    """abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes
    clamp clamp_max clamp_min cos cosh count_over_time day_of_month day_of_week day_of_year
    days_in_month deg delta deriv double_exponential_smoothing end exp floor histogram_avg
    histogram_count histogram_fraction histogram_quantile histogram_stddev histogram_stdvar
    histogram_sum holt_winters hour idelta increase info irate label_join label_replace
    last_over_time ln log10 log2 mad_over_time max_over_time min_over_time minute month pi
    predict_linear present_over_time quantile_over_time rad rate resets round scalar sgn sin
    sinh sort sort_by_label sort_by_label_desc sort_desc sqrt start stddev_over_time
    stdvar_over_time sum_over_time tan tanh time timestamp vector year"""
)
AGGREGATIONS = _words(
    """avg bottomk count count_values group limit_ratio limitk max min quantile stddev stdvar
    sum topk"""
)
KEYWORDS = _words("and or unless bool offset atan2 by without inf nan")
CLAUSES = ("by", "without", "on", "ignoring", "group_left", "group_right")

_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+|\[\[\w+\]\]")
_BRACES = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_CLAUSE = re.compile(rf"\b({'|'.join(CLAUSES)})\s*\([^()]*\)")
_WORD = re.compile(r"(?<![\w:.])[A-Za-z_:][\w:]*")
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(?P<expr>.+?)\s*,\s*)?\w+\s*\)\s*$", re.S)


def metric_names(expr: str) -> set[str]:
    """The metrics `expr` reads; ValueError names a word that is neither PromQL nor ours."""
    text = _STRING.sub('""', expr)
    text = _VARIABLE.sub("1", text)
    text = _BRACES.sub("", text)
    text = _RANGE.sub("", text)
    text = _CLAUSE.sub(r"\1 ", text)
    names = set()
    for found in _WORD.finditer(text):
        word, called = found[0], text[found.end() :].lstrip().startswith("(")
        if word.lower() in KEYWORDS or word in CLAUSES:
            continue
        if called:
            if word not in FUNCTIONS | AGGREGATIONS:
                raise ValueError(f"not a PromQL function: {word!r} in {expr!r}")
        elif word in AGGREGATIONS:  # `sum by (...)`: its clause was emptied above
            continue
        elif word.startswith(PREFIX):
            names.add(word)
        else:
            raise ValueError(f"neither PromQL nor a {PREFIX}* metric: {word!r} in {expr!r}")
    return names


def variable_metrics(query: str) -> set[str]:
    """The metrics of a template variable's `label_values(<expr>, <label>)` query."""
    found = _LABEL_VALUES.match(query)
    if found is None:
        raise ValueError(f"not a label_values() query: {query!r}")
    return metric_names(found["expr"]) if found["expr"] else set()


def load() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return dashboard


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel but the rows, those inside collapsed rows included."""
    found = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            found.extend(panel.get("panels", []))
        else:
            found.append(panel)
    return found


def exprs(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in panels(dashboard) for target in panel["targets"]]


def variable_query(variable: dict[str, Any]) -> str:
    query = variable["query"]
    return str(query["query"] if isinstance(query, dict) else query)


def dashboard_metrics(dashboard: dict[str, Any]) -> set[str]:
    """Every metric name the panels and the query variables read."""
    names = {name for expr in exprs(dashboard) for name in metric_names(expr)}
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            names |= variable_metrics(variable_query(variable))
    return names
