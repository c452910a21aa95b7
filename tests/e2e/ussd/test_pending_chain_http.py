"""Issue 19 item 7 over the callback with the real deposit monitor (simulated chain), PostgreSQL and
Redis: a deposit seen but not confirmed is a pending item with its confirmations and an SMS; once
credited it is no longer pending. A withdrawal's final outcome is told by SMS."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from core.config import WalletSettings
from core.flows import notices
from core.money import Asset
from core.outbox.models import OutboxJob, OutboxStatus
from core.outbox.service import resolve_job
from core.runtime import Runtime
from simulators.africastalking import FakeAfricasTalking
from simulators.chain import SimulatedChain, sim_path
from simulators.chain_embedded import simulated_monitor
from tests.e2e.ussd.conftest import AtPhone, customer_id_of, deliver_sms, register, registered
from wallets.networks import Network

NUMBER = "+254712345678"


async def _run_jobs(rt: Runtime, job: str) -> list[dict[str, object]]:
    """Run the outbox's pending rows of `job` now (what the relay and a worker do)."""
    async with rt.session_factory() as session:
        query = select(OutboxJob).where(OutboxJob.job == job, OutboxJob.status == OutboxStatus.PENDING.value)
        rows = [(row.id, dict(row.kwargs)) for row in (await session.execute(query)).scalars()]
    for _, kwargs in rows:
        await resolve_job(job)(**kwargs)
    return [kwargs for _, kwargs in rows]


@pytest.mark.parametrize(
    ("language", "pending", "sms"),
    [("1", "In USDT 25.00 1/3 conf", "we see USDT 25.00 (USDT on Ethereum)"),
     ("2", "Inaingia USDT 25.00 1/3", "tunaona USDT 25.00 (USDT kwenye Ethereum)")],
)  # fmt: skip
async def test_deposit_seen_is_pending_with_confirmations_and_an_sms(
    client: httpx.AsyncClient, ussd_runtime: Runtime, at_fake: FakeAfricasTalking, tmp_path: Path,
    language: str, pending: str, sms: str,
) -> None:  # fmt: skip
    rt = ussd_runtime
    phone = await registered(client, NUMBER, language)
    assert rt.chains is not None
    address = (
        await rt.chains.deposit_address(
            owner_type="customer", owner_id=await customer_id_of(rt, NUMBER), asset=Asset.USDT_ERC20
        )
    ).address
    chain, monitor = simulated_monitor(
        Network.ERC20, data_dir=tmp_path, session_factory=rt.session_factory, settings=WalletSettings()
    )
    SimulatedChain(Network.ERC20, sim_path(tmp_path, Network.ERC20)).pay(address, 25_000_000)
    chain.produce(1)
    await monitor.step()  # seen in a block: one confirmation of three
    assert len(await _run_jobs(rt, notices.DEPOSIT_SEEN_JOB)) == 1
    await deliver_sms(rt)
    texts = [m.message for m in at_fake.messages_for(NUMBER)]
    assert any(sms in text for text in texts), texts

    await phone.dial()
    statement = await phone.send("7")
    assert pending in statement, statement
    assert pending in await phone.send("1")

    chain.produce(2)
    await monitor.step()  # the third confirmation: credited, no longer pending
    await monitor.step()
    await phone.dial()
    after = await phone.send("7")
    assert pending not in after and "+USDT 25.00" in after, after  # now a movement, not pending
    await monitor.step()  # reruns stage no second "seen" SMS
    async with rt.session_factory() as session:
        staged = (
            await session.execute(select(OutboxJob).where(OutboxJob.job == notices.DEPOSIT_SEEN_JOB))
        ).all()
    assert len(staged) == 1


@pytest.mark.parametrize(
    ("language", "outcome", "expected", "network"),
    [
        ("1", "confirmed", "is confirmed on the network", "USDT on TRON"),
        ("2", "failed", "Pesa na ada zimerudi", "USDT kwenye TRON"),  # the network in Swahili too
    ],
)
async def test_withdrawal_final_sms(
    client: httpx.AsyncClient, ussd_runtime: Runtime, at_fake: FakeAfricasTalking,
    language: str, outcome: str, expected: str, network: str,
) -> None:  # fmt: skip
    rt = ussd_runtime
    await register(AtPhone(client, NUMBER), language)
    customer_id = await customer_id_of(rt, NUMBER)
    assert (
        await notices.withdrawal_final(customer_id, 7, "USDT-TRC20", 10_000_000, outcome, "ab" * 32)
        == outcome
    )
    await deliver_sms(rt)
    texts = [m.message for m in at_fake.messages_for(NUMBER)]
    assert any(expected in text and network in text for text in texts), texts
