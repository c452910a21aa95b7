"""The shipped monitoring and deployment files, checked by the real tools (issue 21 items 2, 4, 5):
promtool accepts the rules and the Prometheus config, every kibeti_* metric that a rule or a
dashboard names is exposed by /metrics after a short journey, Grafana's files are well formed, and
docker-compose.yml validates against the Compose specification's JSON schema."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from core import runtime as runtime_module
from core.config import Settings
from core.runtime import Runtime
from wallets.models import ChainCursor
from webapp.app import create_app
from webapp.bootstrap import build_runtime
from webapp.observability.rq_metrics import RQ_JOB_DURATION

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
AT_TOKEN = "monitoring-at-callback-token-0123456789"
METRIC = re.compile(r"\bkibeti_[a-z0-9_]+")


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert Path(PROMTOOL).exists(), (
        "promtool is not installed: `make test` installs it (apt-get install prometheus)"
    )
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=120)


def test_promtool_accepts_the_rules_and_the_config(tmp_path: Path) -> None:
    rules = _promtool("check", "rules", str(DEPLOY / "prometheus" / "alerts.yml"))
    assert rules.returncode == 0, rules.stdout + rules.stderr
    shutil.copy(DEPLOY / "prometheus" / "alerts.yml", tmp_path / "alerts.yml")
    config = (DEPLOY / "prometheus" / "prometheus.yml").read_text()
    assert "/etc/prometheus/alerts.yml" in config
    (tmp_path / "prometheus.yml").write_text(
        config.replace("/etc/prometheus/alerts.yml", str(tmp_path / "alerts.yml"))
    )
    checked = _promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _payout_stuck_unknown_test(values: str, expect_firing_at: str) -> dict[str, object]:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    rule = next(r for g in rules["groups"] for r in g["rules"] if r.get("alert") == "PayoutStuckUnknown")
    firing = [{"exp_labels": rule["labels"], "exp_annotations": rule["annotations"]}]
    return {
        "interval": "1m",
        "input_series": [{"series": 'kibeti_payout_oldest_unknown_age_seconds{instance="web:8000"}',
                          "values": values}],
        "alert_rule_test": [
            {"eval_time": "12m", "alertname": "PayoutStuckUnknown", "exp_alerts": []},
            {"eval_time": expect_firing_at, "alertname": "PayoutStuckUnknown",
             "exp_alerts": firing if expect_firing_at == "14m" else []},
        ],
    }  # fmt: skip


def test_payout_stuck_unknown_fires_on_an_age_that_grows_and_never_on_one_reset_by_status_queries(
    tmp_path: Path,
) -> None:
    """The metric's age runs from when the payout became unknown (core.payments' unknown_since): an
    hour-long unknown pages after 10 minutes + `for: 2m`. An age reset by every status query (the
    scheduler's 60 s pass with its 120 s cutoff: 0..180 s, as when it was measured from updated_at)
    never does: the rule alone cannot catch that, the metric must not reset."""
    sawtooth = " ".join(["0 60 120 180"] * 15)
    tests = {
        "rule_files": [str(DEPLOY / "prometheus" / "alerts.yml")],
        "evaluation_interval": "1m",
        "tests": [_payout_stuck_unknown_test("0+60x60", "14m"), _payout_stuck_unknown_test(sawtooth, "59m")],
    }
    (tmp_path / "payout_stuck_unknown_test.yml").write_text(yaml.safe_dump(tests))
    ran = _promtool("test", "rules", str(tmp_path / "payout_stuck_unknown_test.yml"))
    assert ran.returncode == 0, ran.stdout + ran.stderr


def _named_in_rules_and_dashboards() -> set[str]:
    names = set(METRIC.findall((DEPLOY / "prometheus" / "alerts.yml").read_text()))
    for board in (DEPLOY / "grafana" / "dashboards").glob("*.json"):
        for panel in json.loads(board.read_text())["panels"]:
            for target in panel["targets"]:
                names.update(METRIC.findall(target["expr"]))
    return names


def test_grafana_dashboards_and_provisioning_are_well_formed() -> None:
    boards = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
    assert {b.stem for b in boards} >= {"overview", "payments", "chains", "compliance", "infrastructure"}
    uids = [json.loads(b.read_text())["uid"] for b in boards]
    assert len(uids) == len(set(uids))
    for board in boards:
        for panel in json.loads(board.read_text())["panels"]:
            assert panel["datasource"]["uid"] == "kibeti-prometheus", (board.name, panel["title"])
            assert panel["targets"], (board.name, panel["title"])
    datasource = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    assert datasource["datasources"][0]["uid"] == "kibeti-prometheus"


@pytest.fixture
async def runtime(sqlite_url: str) -> AsyncIterator[Runtime]:
    rt = build_runtime(Settings(kibeti_env="test", database_url=sqlite_url, at_callback_token=AT_TOKEN))
    previous = runtime_module._current
    runtime_module.install(rt)
    yield rt
    runtime_module._current = previous
    await rt.session_factory.kw["bind"].dispose()


async def test_every_metric_a_rule_or_dashboard_names_is_exposed(runtime: Runtime) -> None:
    async with runtime.session_factory() as session:
        session.add(
            ChainCursor(
                network="trc20",
                height=120,
                block_hash="ab" * 32,
                tip_height=155,
                updated_at=runtime.clock.now(),
            )
        )
        await session.commit()
    app = create_app(runtime, run_scheduler_inside=False)
    app.state.runtime = runtime
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        form = {"sessionId": "ATUid_monitoring", "serviceCode": "*483*1#", "phoneNumber": "+254700000888"}
        assert (
            await client.post(f"/ussd/{AT_TOKEN}", data={**form, "networkCode": "63902", "text": ""})
        ).status_code == 200
        notice = {"sessionId": form["sessionId"], "status": "Incomplete", "phoneNumber": form["phoneNumber"]}
        assert (await client.post(f"/ussd/{AT_TOKEN}/events", data=notice)).status_code == 200  # a drop-off
        exposition = (await client.get("/metrics")).text
    exposed: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        exposed.add(family.name)
        exposed.update(sample.name for sample in family.samples)
    wanted = _named_in_rules_and_dashboards()
    assert "kibeti_http_request_duration_seconds_bucket" in wanted
    lag = [
        s
        for f in text_string_to_metric_families(exposition)
        for s in f.samples
        if s.name == "kibeti_chain_scanner_lag_blocks"
    ]
    assert [(s.labels, s.value) for s in lag] == [({"network": "trc20"}, 35.0)]
    # RQ job durations are served by the workers themselves (`kibeti worker rq --metrics-port`),
    # tested in tests/integration/webapp/test_rq_job_metrics.py
    served_by_workers = {n for n in wanted if n.startswith(RQ_JOB_DURATION._name)}
    assert served_by_workers, "the dashboards show RQ job durations"
    missing = sorted(wanted - exposed - served_by_workers)
    assert not missing, f"named in deploy/ but not exposed by /metrics: {missing}"


def test_compose_file_follows_the_compose_specification() -> None:
    checker = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(ROOT / "docker-compose.yml")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
