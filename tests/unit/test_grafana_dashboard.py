"""docs/grafana/salesaga.json is an importable dashboard whose every query names its data source,
filters by the dashboard's variables and reads only salesaga metrics (which ones the service
really exports: tests/e2e/test_observability_e2e.py); and the helper that finds those names."""

from __future__ import annotations

import json
import re

import pytest

from tests.promql import (
    DASHBOARD,
    dashboard_metrics,
    exprs,
    load,
    metric_names,
    panels,
    variable_metrics,
    variable_query,
)

DATASOURCE = "${datasource}"
FLOW_METRICS = ("salesaga_sagas", "salesaga_saga_duration_seconds", "salesaga_step_")
TERMINAL = ("failed", "compensated", "compensation_failed", "needs_manual_cleanup")


@pytest.fixture(scope="module")
def dashboard():
    return load()


def variables(dashboard) -> dict[str, dict]:
    return {variable["name"]: variable for variable in dashboard["templating"]["list"]}


def test_the_file_is_a_grafana_dashboard(dashboard):
    json.loads(DASHBOARD.read_text())  # plain JSON: no comments, no trailing commas
    assert dashboard["id"] is None  # imported as a new dashboard, wherever it goes
    assert dashboard["uid"] == "salesaga" and dashboard["title"]
    assert 36 <= dashboard["schemaVersion"] <= 41
    assert isinstance(dashboard["panels"], list) and len(panels(dashboard)) >= 15


def test_panel_ids_are_unique_and_every_panel_has_a_place_on_the_grid(dashboard):
    every = [*dashboard["panels"], *panels(dashboard)]
    ids = [panel["id"] for panel in {id(p): p for p in every}.values()]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) for i in ids)
    taken: set[tuple[int, int]] = set()
    for panel in {id(p): p for p in every}.values():
        grid = panel["gridPos"]
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] >= 0 and grid["y"] >= 0
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {(grid["x"] + dx, grid["y"] + dy)
                 for dx in range(grid["w"]) for dy in range(grid["h"])}  # fmt: skip
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells


def test_every_panel_queries_prometheus_through_the_datasource_variable(dashboard):
    for panel in panels(dashboard):
        assert panel["type"] in {"timeseries", "stat"} and panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE}, panel["title"]
        assert panel["targets"], panel["title"]
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target["datasource"]["uid"] == DATASOURCE, panel["title"]


def test_template_variables_are_the_datasource_the_flow_and_the_backend(dashboard):
    found = variables(dashboard)
    assert found["datasource"]["type"] == "datasource"
    assert found["datasource"]["query"] == "prometheus"
    assert variable_query(found["flow"]) == "label_values(salesaga_sagas_started_total, flow)"
    assert variable_query(found["backend"]) == (
        "label_values(salesaga_crm_call_duration_seconds_count, backend)"
    )
    for name in ("flow", "backend"):
        assert found[name]["type"] == "query" and found[name]["datasource"]["uid"] == DATASOURCE
        assert found[name]["multi"] and found[name]["includeAll"]
        assert found[name]["allValue"] == ".*"  # =~"$flow" matches every flow under All


def test_every_query_filters_by_the_variables_and_ranges_over_the_rate_interval(dashboard):
    for expr in exprs(dashboard):
        names = metric_names(expr)
        if any(name.startswith(FLOW_METRICS) for name in names):
            assert 'flow=~"$flow"' in expr, expr
        if any(name.startswith("salesaga_crm_call") for name in names):
            assert 'backend=~"$backend"' in expr, expr
        assert set(re.findall(r"\[[^\]]*\]", expr)) <= {"[$__rate_interval]"}, expr
        if "_bucket" in expr:
            assert expr.startswith("histogram_quantile(") and " le)" in expr, expr


def test_the_panels_the_operators_guide_describes_are_there(dashboard):
    by_title = {panel["title"]: " ".join(t["expr"] for t in panel["targets"])
                for panel in panels(dashboard)}  # fmt: skip
    latency = by_title["Saga latency p50 / p95 / p99"]
    assert all(f"histogram_quantile({q}," in latency for q in ("0.5", "0.95", "0.99"))
    assert "salesaga_saga_duration_seconds_bucket" in latency
    assert all(status in by_title["Failures"] for status in TERMINAL)
    assert "salesaga_sagas{" in by_title["Waiting for an operator"]
    assert "increase(salesaga_takeovers_total" in by_title["Takeovers"]
    assert 'status=~"error|4..|5.."' in by_title["CRM call errors"]
    for title in ("Workers alive", "State table up", "Dead letters waiting", "Outbox backlog",
                  "Step retries", "Step duration p95", "CRM call latency p50 / p95"):  # fmt: skip
        assert title in by_title


def test_the_dashboard_reads_only_salesaga_metrics(dashboard):
    names = dashboard_metrics(dashboard)
    assert "salesaga_saga_duration_seconds_bucket" in names
    assert all(name.startswith("salesaga_") for name in names)


# --- the helper --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('sum by (flow, le) (rate(salesaga_a_bucket{flow=~"$flow", x="up y"}[$__rate_interval]))',
         {"salesaga_a_bucket"}),
        ("histogram_quantile(0.95, sum(rate(salesaga_a_bucket[5m])) by (le, job))",
         {"salesaga_a_bucket"}),
        ("salesaga_a / on (flow) group_left (step) salesaga_b > bool 0 or salesaga_c offset 1h",
         {"salesaga_a", "salesaga_b", "salesaga_c"}),
        ("max(salesaga_workers_alive) unless absent(salesaga_state_table_up)",
         {"salesaga_workers_alive", "salesaga_state_table_up"}),
        ("1 - 1e3 * ${x} + Inf", set()),
    ],
)  # fmt: skip
def test_metric_names_are_the_words_outside_labels_clauses_and_strings(expr, expected):
    assert metric_names(expr) == expected


@pytest.mark.parametrize(
    ("expr", "word"),
    [
        ("rate(http_requests_total[5m])", "http_requests_total"),  # not ours
        ('salesaga_a + up{job="salesaga"}', "up"),
        ("sum by (flow) (salesaga_a) * flow", "flow"),  # a label name outside a clause
        ("frobnicate(salesaga_a)", "frobnicate"),  # no such function
        ("salesaga_a(salesaga_b)", "salesaga_a"),
    ],
)
def test_a_word_neither_promql_nor_a_salesaga_metric_is_refused(expr, word):
    with pytest.raises(ValueError, match=f"'{word}'"):
        metric_names(expr)


def test_label_values_queries_give_their_metric_not_their_label():
    assert variable_metrics("label_values(salesaga_x_total, flow)") == {"salesaga_x_total"}
    assert variable_metrics('label_values(salesaga_x{a="b"}, backend)') == {"salesaga_x"}
    assert variable_metrics("label_values(flow)") == set()
    with pytest.raises(ValueError):
        variable_metrics("query_result(salesaga_x)")
