"""Network fees per network, from the books: what customers were charged for them on confirmed
withdrawals, what the chains took for those, the gain/loss between the two, and the network costs
the house bears itself (sweeps, reverted transactions). `kibeti chain fees` prints it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.ledger import service as ledger
from core.ledger.types import AccountKind
from core.money import Money
from wallets.models import Withdrawal
from wallets.networks import Network


@dataclass(frozen=True)
class NetworkFeeLine:
    network: Network
    withdrawals: int  # confirmed
    withdrawal_fees: Money  # the percentage fee, fee revenue
    charged: Money  # network fees charged to customers
    paid: Money  # what the chains took for those withdrawals
    house_costs: Money  # network costs not charged to anyone (sweeps, reverted transactions)

    @property
    def gain_loss(self) -> Money:
        return self.charged - self.paid

    @property
    def covered(self) -> bool:
        return self.charged >= self.paid


async def network_fee_report(*, session: AsyncSession) -> list[NetworkFeeLine]:
    lines = []
    for network in Network:
        asset = network.asset
        count, fees, charged = (
            await session.execute(
                select(
                    func.count(), func.coalesce(func.sum(Withdrawal.fee_minor), 0),
                    func.coalesce(func.sum(Withdrawal.network_fee_minor), 0),
                ).where(Withdrawal.network == network.value, Withdrawal.status == "confirmed")
            )
        ).one()  # fmt: skip
        gain_loss = await ledger.system_account(
            session=session, kind=AccountKind.NETWORK_FEE_GAIN_LOSS, asset=asset
        )
        expense = await ledger.system_account(session=session, kind=AccountKind.NETWORK_FEES, asset=asset)
        charged_money = Money.from_minor(int(charged), asset)
        result = await ledger.balance(session=session, account_id=gain_loss.id)
        lines.append(
            NetworkFeeLine(
                network=network,
                withdrawals=int(count),
                withdrawal_fees=Money.from_minor(int(fees) - int(charged), asset),
                charged=charged_money,
                paid=charged_money - result,
                house_costs=-(await ledger.balance(session=session, account_id=expense.id)),
            )
        )
    return lines
