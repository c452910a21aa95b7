"""Builds the ComplianceGate adapter for webapp.bootstrap (ADAPTER_BUILDERS["compliance"])."""

from __future__ import annotations

from compliance.gate import ComplianceGateService
from core.runtime import Runtime


def build(runtime: Runtime) -> ComplianceGateService:
    return ComplianceGateService(session_factory=runtime.session_factory, clock=runtime.clock)
