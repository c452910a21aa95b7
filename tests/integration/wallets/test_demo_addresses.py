"""On the embedded demo (public development keys) every deposit address is labelled DEMO, on the
USSD receive screen and in its SMS, in both languages; configured keys are not (issue 11 item 7)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import SystemClock
from core.config import Settings, WalletSettings
from core.flows.service import CoreFlows
from core.i18n import translate
from core.identity import service as identity
from core.money import Asset
from core.runtime import Runtime
from wallets.adapter import deriver_for
from wallets.gateway import WalletGateway
from wallets.hd.derivation import AddressDeriver
from webapp.queues import InProcessJobQueue

LABEL = {
    "en": "DEMO address - do not send real funds",
    "sw": "Anwani ya MAJARIBIO - usitume pesa halisi",
}  # one demo word per language
LONGEST_ASSET = "USDT-ERC20"
LONGEST_ADDRESS = "bc1q" + "q" * 38  # 42 characters, as long as an Ethereum address


@dataclass
class Texts:
    sent: list[str] = field(default_factory=list)

    async def send_sms(self, *, phone: str, text: str, reference: str) -> None:
        self.sent.append(text)


async def _ask(
    sf: async_sessionmaker[AsyncSession], deriver: AddressDeriver, language: str
) -> tuple[str, bool, str]:
    texts = Texts()
    rt = Runtime(
        settings=Settings(kibeti_env="test"),
        session_factory=sf,
        clock=SystemClock(),
        queue=InProcessJobQueue(),
    )
    rt.chains, rt.notifier = WalletGateway(session_factory=sf, deriver=deriver), texts
    async with sf() as session:
        customer = await identity.register_customer(
            session=session,
            phone="0712345678",
            name="Wanjiku",
            national_id="12345678",
            language=language,
            pin="4826",
        )
        await session.commit()
    address = await CoreFlows(rt).deposit_address(
        customer_id=customer.id, asset=Asset.USDT_ERC20, idempotency_key="k"
    )
    assert texts.sent, "no SMS"
    return address, bool(getattr(address, "demo", False)), texts.sent[0]


@pytest.mark.parametrize("language", ["en", "sw"])
async def test_the_demo_says_so_on_the_screen_and_in_the_sms(
    session_factory: async_sessionmaker[AsyncSession], language: str
) -> None:
    keys = WalletSettings(_env_file=None, btc_account_xpub="", eth_account_xpub="", tron_account_xpub="")
    demo = deriver_for(keys, Settings(_env_file=None, kibeti_env="development", redis_url=""))
    address, flagged, sms = await _ask(session_factory, demo, language)
    assert flagged and address.startswith("0x") and address in sms and LABEL[language] in sms
    screen = translate("ussd.receive.done_demo", language, asset=LONGEST_ASSET, address=LONGEST_ADDRESS)
    assert LABEL[language] in screen and len(screen) <= 160


async def test_configured_keys_are_not_labelled(
    session_factory: async_sessionmaker[AsyncSession], deriver: AddressDeriver
) -> None:
    address, flagged, sms = await _ask(session_factory, deriver, "en")
    assert not flagged and "DEMO" not in sms and address in sms
