"""Save and list withdrawal addresses: validated by the chain adapter and screened by the compliance
gate once, at save time (a withdrawal is screened again when it is requested)."""

from __future__ import annotations

import logging
import re

from core.addressbook import service
from core.addressbook.errors import AddressRefused, InvalidLabel
from core.addressbook.models import SavedAddressView, view_of
from core.flows.errors import ServiceUnavailable
from core.money import Asset, Money
from core.ports import Decision, MovementCheck
from core.runtime import Runtime

log = logging.getLogger(__name__)
LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9 .\-]{0,11}")
# A save is screened as a zero withdrawal: screening runs before the tier limits, so a limit
# refusal means the address itself passed (a tier without crypto withdrawals may still save one).
SCREEN_PASSED = frozenset(
    {"tier_crypto_withdrawal_not_allowed", "limit_crypto_withdrawal_exceeded", "limit_transaction_exceeded",
     "limit_daily_exceeded", "limit_monthly_exceeded"}
)  # fmt: skip


def clean_label(label: str) -> str:
    text = " ".join(label.split())
    if not LABEL.fullmatch(text):
        raise InvalidLabel("a label is 1 to 12 letters, digits, spaces, dots or dashes, e.g. Binance")
    return text


async def _screen(rt: Runtime, customer_id: int, asset: Asset, address: str) -> None:
    if rt.compliance is None:
        if rt.settings.is_production:
            raise ServiceUnavailable("Runtime.compliance (ComplianceGate) is not wired")
        log.warning("no compliance gate wired: address saved unscreened (not production)")
        return
    check = MovementCheck(customer_id, "withdraw", Money.zero(asset), Money.zero(Asset.KES), address)
    result = await rt.compliance.check(check)
    if result.decision is Decision.ALLOW or result.reason_code in SCREEN_PASSED:
        return
    raise AddressRefused(f"address refused by screening ({result.reason_code})")


async def save_address(
    rt: Runtime, *, customer_id: int, asset: Asset, label: str, address: str
) -> SavedAddressView:
    if rt.chains is None:
        raise ServiceUnavailable("Runtime.chains (ChainGateway) is not wired")
    name = clean_label(label)
    canonical = rt.chains.validate_address(asset=asset, address=address.strip())
    await _screen(rt, customer_id, asset, canonical)
    async with rt.session_factory() as session:
        row = await service.save(
            session=session, customer_id=customer_id, asset=asset, label=name, address=canonical,
            now=rt.clock.now(),
        )  # fmt: skip
        view = view_of(row)
        await session.commit()
    return view


async def saved_addresses(rt: Runtime, *, customer_id: int) -> list[SavedAddressView]:
    async with rt.session_factory() as session:
        return [view_of(row) for row in await service.list_for(session=session, customer_id=customer_id)]
