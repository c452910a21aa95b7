"""`kibeti address save|list` (issue 19 item 6): validated by the chain adapter, screened once at save
time (a listed address is refused), wrong arguments answered in one line."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from core.clock import SystemClock
from core.config import get_settings
from core.db.session import make_engine, make_session_factory
from webapp.cli.address import cli

TRON = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
LISTED = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"  # on the test sanctions list


@pytest.fixture
def cli_env(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("REDIS_URL", "")
    monkeypatch.setenv("KIBETI_ENV", "test")
    get_settings.cache_clear()
    yield sqlite_url
    get_settings.cache_clear()


async def _seed(url: str) -> None:
    from compliance.sanctions import store
    from compliance.sanctions.entities import CryptoAddress, ListedEntity
    from compliance.sanctions.loader import SanctionsList
    from core.identity import service as identity

    engine = make_engine(url)
    try:
        async with make_session_factory(engine)() as session:
            if await identity.get_customer_by_phone(session=session, phone="+254712345678") is None:
                await identity.register_customer(
                    session=session, phone="+254712345678", name="Amina Wanjiru", national_id="12345678",
                    language="en", pin="4826", clock=SystemClock(),
                )  # fmt: skip
            listed = ListedEntity(
                "crypto", "t1", "Listed Wallet", "entity", crypto=[CryptoAddress("USDT", LISTED)]
            )
            await store.save_version(
                session=session, lists=SanctionsList.from_entities([listed]), loaded_by="t"
            )
            await session.commit()
    finally:
        await engine.dispose()


# The CLI builds the full Runtime, whose wallet adapter imports web3 (a websockets.legacy deprecation).
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_address_save_and_list(cli_env: str) -> None:
    from compliance.sanctions import registry

    runner = CliRunner()
    registry.clear()  # the process caches a list by version id; another test's database had one too
    asyncio.run(_seed(cli_env))
    save = ["save", "--phone", "0712345678", "--network", "trc20", "--label", "Binance", "--address", TRON]
    refused = runner.invoke(cli, [*save[:-1], LISTED])
    assert refused.exit_code == 1 and "[address_refused]" in refused.output, refused.output  # screened
    saved = runner.invoke(cli, save)
    assert saved.exit_code == 0 and f"Binance\tTRC20\t{TRON}" in saved.output, saved.output
    listed = runner.invoke(cli, ["list", "--phone", "+254712345678"])
    assert listed.exit_code == 0 and listed.output.count("TRC20") == 1, listed.output
    again = runner.invoke(cli, [*save[:-4], "--label", "Main", "--address", TRON])  # same address: relabelled
    assert again.exit_code == 0 and "Main\tTRC20" in again.output, again.output

    wrong_network = runner.invoke(cli, [*save[:4], "erc20", *save[5:]])
    assert wrong_network.exit_code == 1 and "address" in wrong_network.output.lower(), wrong_network.output
    bad_label = runner.invoke(cli, [*save[:6], "Binance <script>", *save[7:]])
    assert bad_label.exit_code == 1 and "[address_label_invalid]" in bad_label.output, bad_label.output
    unknown = runner.invoke(cli, ["list", "--phone", "0799999999"])
    assert unknown.exit_code == 1 and "no customer with phone 0799999999" in unknown.output, (
        unknown.output
    )  # refused
    bad_phone = runner.invoke(cli, ["list", "--phone", "hello"])
    assert bad_phone.exit_code == 2 and "--phone" in bad_phone.output, bad_phone.output
    no_network = runner.invoke(cli, [*save[:4], "solana", *save[5:]])
    assert no_network.exit_code == 2 and "solana" in no_network.output, no_network.output
