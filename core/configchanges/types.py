"""Config change kinds and statuses, shared with outer packages (the table is in models.py)."""

from __future__ import annotations

from enum import StrEnum


class ChangeStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class ChangeKind(StrEnum):
    FEE_RULE = "fee_rule"
    # one parameter of a compliance monitoring rule (compliance_rules.params), in force from its time
    MONITORING_THRESHOLD = "monitoring_threshold"
