"""The shipped Prometheus rules for PesaPal refunds, run by promtool's rule tests: a refund accepted by
PesaPal and still waiting for approval on PesaPal's dashboard after 30 minutes fires
RailRefundAwaitingApproval (not RailRefundStuckOpen); one whose outcome is unknown fires
RailRefundStuckOpen (not RailRefundAwaitingApproval); a young one fires neither."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
AGE = "kibeti_rail_refund_oldest_age_seconds"


def _series(growing: str) -> list[dict[str, str]]:
    """Each open state's oldest age, one sample a minute for an hour: `growing` ages by 60 s a
    minute, the others stay 0 (none open)."""
    return [
        {"series": f'{AGE}{{state="{state}"}}', "values": "0+60x60" if state == growing else "0x60"}
        for state in ("pending", "unknown", "accepted")
    ]


def _alerts(name: str, firing: bool) -> dict[str, object]:
    rules = yaml.safe_load((DEPLOY / "alerts.yml").read_text())
    rule = next(r for g in rules["groups"] for r in g["rules"] if r.get("alert") == name)
    expected = [{"exp_labels": rule["labels"], "exp_annotations": rule["annotations"]}] if firing else []
    return {"eval_time": "40m", "alertname": name, "exp_alerts": expected}


def test_an_accepted_refund_waiting_for_approval_and_an_unknown_one_fire_their_own_alert(
    tmp_path: Path,
) -> None:
    assert Path(PROMTOOL).exists(), (
        "promtool is not installed: `make test` installs it (apt-get install prometheus)"
    )
    shutil.copy(DEPLOY / "alerts.yml", tmp_path / "alerts.yml")
    cases = {
        "accepted": (True, False),  # (RailRefundAwaitingApproval, RailRefundStuckOpen)
        "unknown": (False, True),
        "pending": (False, True),
    }
    tests = [
        {
            "interval": "1m",
            "input_series": _series(state),
            "alert_rule_test": [
                _alerts("RailRefundAwaitingApproval", awaiting),
                _alerts("RailRefundStuckOpen", stuck),
                {"eval_time": "20m", "alertname": "RailRefundAwaitingApproval", "exp_alerts": []},
                {"eval_time": "20m", "alertname": "RailRefundStuckOpen", "exp_alerts": []},
            ],
        }
        for state, (awaiting, stuck) in cases.items()
    ]
    spec = {"rule_files": ["alerts.yml"], "evaluation_interval": "1m", "tests": tests}
    (tmp_path / "refund_rules_test.yml").write_text(yaml.safe_dump(spec, sort_keys=False))
    run = subprocess.run(
        [PROMTOOL, "test", "rules", "refund_rules_test.yml"], cwd=tmp_path, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
