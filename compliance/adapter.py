"""Builds the ComplianceGate adapter for webapp.bootstrap (ADAPTER_BUILDERS["compliance"])."""

from __future__ import annotations

from compliance.gate import ComplianceGateService
from compliance.iprs import SimulatedIprs, UnavailableIprs
from core.ports import IdentityRegistry
from core.runtime import Runtime


def identity_registry(runtime: Runtime) -> IdentityRegistry:
    """The simulator outside production when configured; otherwise no registry (staff decide)."""
    if runtime.settings.compliance.iprs == "simulator" and not runtime.settings.is_production:
        return SimulatedIprs(lenient=True)
    return UnavailableIprs()


def build(runtime: Runtime) -> ComplianceGateService:
    return ComplianceGateService(
        session_factory=runtime.session_factory, clock=runtime.clock, verifier=identity_registry(runtime)
    )
