"""The collection rails this package offers, by name (webapp.bootstrap wires them as
`Runtime.collection_rails`): Daraja's STK push ("mpesa") and PesaPal ("pesapal")."""

from __future__ import annotations

from core.ports import CollectionRail
from core.runtime import Runtime
from payouts.pesapal import adapter as pesapal
from payouts.stk_rail import RAIL, DarajaStkRail


def build(runtime: Runtime) -> dict[str, CollectionRail]:
    return {RAIL: DarajaStkRail(runtime), **pesapal.build(runtime)}
