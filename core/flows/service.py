"""`CoreFlows`: the customer use cases over the real services. Each method opens its own
transaction through the Runtime's session factory and commits it; money operations are keyed.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.addressbook import flows as addressbook
from core.addressbook.models import SavedAddressView
from core.errors import KibetiError
from core.flows import accounts, cashout, claims, limits, selfcare, trading, withdrawals
from core.flows.errors import (
    AlreadyRegistered,
    InvalidName,
    InvalidNationalId,
    NationalIdTaken,
    SelfSend,
    ServiceUnavailable,
)
from core.flows.types import (
    AccountStatus,
    BalanceLine,
    CashoutQuote,
    CustomerView,
    PendingLine,
    QuoteView,
    RateLine,
    Receipt,
    Recipient,
    StatementLine,
)
from core.i18n import translate
from core.identity import flows as identity_flows
from core.identity import pin as identity_pin
from core.identity import service as identity
from core.identity.errors import InvalidPhoneNumber, PinIncorrect, PinLocked
from core.identity.models import Customer
from core.identity.phone import normalize_phone
from core.ledger.service import Movement
from core.money import Asset, Money, format_money
from core.ports import IdentityClaim
from core.quotes.maths import Given, Rail
from core.runtime import Runtime
from core.settlements import pay as merchant_pay
from core.settlements.models import MerchantView

log = logging.getLogger(__name__)
EAT_OFFSET = timedelta(hours=3)  # Kenya keeps East Africa Time (UTC+3) all year


def _view(customer: Customer) -> CustomerView:
    return CustomerView(
        id=customer.id, phone=customer.phone, name=customer.name, language=customer.language,
        pin_reset_pending=identity_flows.pin_reset_required(customer),
    )  # fmt: skip


async def _national_id_holder(session: AsyncSession, national_id: str) -> int | None:
    """The customer already registered with this national ID, if any (one person, one wallet)."""
    query = select(Customer.id).where(Customer.national_id == national_id).limit(1)
    return (await session.execute(query)).scalar_one_or_none()


class DepositAddressText(str):
    """A deposit address (a str, as channels expect) that knows whether it is a DEMO address."""

    demo: bool

    def __new__(cls, address: str, *, demo: bool = False) -> DepositAddressText:
        text = super().__new__(cls, address)
        text.demo = demo
        return text


class CoreFlows:
    """The implementation of `core.flows.types.CustomerFlows`."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    def _session(self) -> AsyncSession:
        return self.rt.session_factory()

    async def notify(self, *, phone: str, code: str, language: str, reference: str, **values: str) -> None:
        """Queue an SMS through the Notifier port; a missing notifier is logged, never fatal."""
        if self.rt.notifier is None:
            log.warning("no notifier wired: SMS %s not sent", code)
            return
        text = translate(code, language, code=self.rt.settings.at_shortcode, **values)
        await self.rt.notifier.send_sms(phone=phone, text=text, reference=reference)

    # --- identity ------------------------------------------------------------------------

    def today(self) -> date:
        return (self.rt.clock.now() + EAT_OFFSET).date()

    async def find_customer(self, *, phone: str) -> CustomerView | None:
        try:
            e164 = normalize_phone(phone)
        except InvalidPhoneNumber:
            return None
        return await accounts.read_customer(self.rt.session_factory, e164)

    async def check_new_pin(self, *, phone: str, pin: str) -> None:
        identity_pin.check_new_pin(pin, phone=normalize_phone(phone))

    async def register(
        self,
        *,
        phone: str,
        name: str,
        national_id: str,
        pin: str,
        language: str,
        idempotency_key: str,
        date_of_birth: date | None = None,
    ) -> CustomerView:
        """Create the customer and, with the date of birth, their KYC identity: compliance screens
        it in this transaction and checks it against the identity registry (Tier 1 on a match)."""
        clean_name = " ".join(name.split())
        if len(clean_name) < 2:
            raise InvalidName("enter a name")
        if not (national_id.isascii() and national_id.isdigit() and 6 <= len(national_id) <= 9):
            raise InvalidNationalId("national ID must be 6 to 9 digits")
        async with self._session() as session:
            existing = await identity.get_customer_by_phone(session=session, phone=phone)
            if existing is not None:
                if existing.name == clean_name and existing.national_id == national_id:
                    return _view(existing)  # the same registration, repeated
                raise AlreadyRegistered("this number is already registered")
            if await _national_id_holder(session, national_id) is not None:
                raise NationalIdTaken("this national ID is registered to another number")
            try:
                customer = await identity.register_customer(
                    session=session,
                    phone=phone,
                    name=clean_name,
                    national_id=national_id,
                    language=language,
                    pin=pin,
                    clock=self.rt.clock,
                    limiter=self.rt.rate_limiter,
                )
            except IntegrityError as exc:  # a registration of this number or ID committed after the checks
                await session.rollback()
                existing = await identity.get_customer_by_phone(session=session, phone=phone)
                if existing is not None:
                    if existing.name == clean_name and existing.national_id == national_id:
                        return _view(existing)  # the same registration, retried concurrently
                    raise AlreadyRegistered("this number is already registered") from exc
                raise NationalIdTaken("this national ID is registered to another number") from exc
            if date_of_birth is not None and self.rt.compliance is not None:
                claim = IdentityClaim(customer.id, clean_name, national_id, date_of_birth)
                await self.rt.compliance.register_identity(session=session, claim=claim)
            for asset in accounts.WALLET_ASSETS:
                await accounts.wallet_account_id(session, customer.id, asset)
            collected = await claims.collect(
                session, customer_id=customer.id, phone=customer.phone, clock=self.rt.clock
            )
            await session.commit()
            view = _view(customer)
        first_name = clean_name.split(" ")[0][:20]
        await self.notify(
            phone=view.phone,
            code="sms.registered",
            language=language,
            reference=idempotency_key,
            name=first_name,
        )
        for index, amount in enumerate(collected):
            await self.notify(
                phone=view.phone, code="sms.claimed", language=language,
                reference=f"{idempotency_key}:claim:{index}",
                amount=format_money(amount, language),
            )  # fmt: skip
        return view

    async def verify_pin(self, session: AsyncSession, *, customer_id: int, pin: str) -> Customer:
        """Check a PIN inside `session`; failures are committed in their own transaction."""
        try:
            return await identity.verify_pin(
                session=session,
                limiter=self.rt.rate_limiter,
                customer_id=customer_id,
                pin=pin,
                clock=self.rt.clock,
            )
        except (PinIncorrect, PinLocked):
            await session.commit()
            raise

    async def change_pin(self, *, customer_id: int, old_pin: str, new_pin: str) -> None:
        async with self._session() as session:
            try:
                await identity.change_pin(
                    session=session,
                    limiter=self.rt.rate_limiter,
                    customer_id=customer_id,
                    old_pin=old_pin,
                    new_pin=new_pin,
                    clock=self.rt.clock,
                )
            except (PinIncorrect, PinLocked):
                await session.commit()
                raise
            await session.commit()

    async def set_language(self, *, customer_id: int, language: str) -> None:
        async with self._session() as session:
            await identity.set_language(session=session, customer_id=customer_id, language=language)
            await session.commit()

    async def account_status(self, *, customer_id: int) -> AccountStatus:
        """KYC status and limits as compliance enforces them; without a gate wired, the tier alone."""
        if self.rt.compliance is not None:
            limits = await self.rt.compliance.limits(customer_id)
            return AccountStatus(
                kyc_status=limits.kyc_status,
                tier=f"Tier {limits.tier}",
                per_transaction=limits.per_transaction,
                daily_limit=limits.daily,
                used_today=limits.used_today,
                monthly_limit=limits.monthly,
                used_this_month=limits.used_this_month,
                balance_limit=limits.balance,
                crypto_withdrawal_limit=limits.crypto_withdrawal,
                next_step=limits.next_step,
            )
        async with self._session() as session:
            customer = await identity.get_customer(session=session, customer_id=customer_id)
            tier = int(customer.kyc_tier)
        status = "verified" if tier >= 1 else "none"
        return AccountStatus(
            kyc_status=status,
            tier=f"Tier {tier}",
            per_transaction=None,
            daily_limit=None,
            used_today=Money.zero(Asset.KES),
        )

    # --- wallet reads --------------------------------------------------------------------

    async def balances(self, *, customer_id: int) -> list[BalanceLine]:
        return await accounts.read_balances(self.rt.session_factory, customer_id, self.rt.clock)

    async def mini_statement(self, *, customer_id: int, limit: int = 5) -> list[StatementLine]:
        async with self._session() as session:
            lines = await accounts.mini_statement(session, customer_id, limit)
            await session.commit()
            return lines

    async def statement(
        self, *, customer_id: int, asset: Asset, before_entry_id: int | None = None, limit: int = 20
    ) -> list[Movement]:
        """One wallet's movements, newest first, a page at a time (keyset on the entry id)."""
        async with self._session() as session:
            await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            return await accounts.statement_page(
                session, customer_id, asset, before_entry_id=before_entry_id, limit=limit
            )

    async def deposit_address(
        self, *, customer_id: int, asset: Asset, idempotency_key: str, notify: bool = True
    ) -> DepositAddressText:
        """The customer's deposit address (SMS'd too unless `notify=False`: a channel that shows
        it whole, as the Telegram bot's QR reply does); `.demo` when it is a public demo key's, and
        then the SMS says so (channels show `ussd.receive.done_demo`)."""
        if self.rt.chains is None:
            raise ServiceUnavailable("Runtime.chains (ChainGateway) is not wired")
        address = await self.rt.chains.deposit_address(
            owner_type="customer", owner_id=customer_id, asset=asset
        )
        if not notify:
            return DepositAddressText(address.address, demo=address.demo)
        async with self._session() as session:
            customer = await identity.get_customer(session=session, customer_id=customer_id)
            phone, language = customer.phone, customer.language
        await self.notify(
            phone=phone,
            code="sms.deposit_address_demo" if address.demo else "sms.deposit_address",
            language=language,
            reference=idempotency_key,
            asset=asset.value,
            address=address.address,
        )
        return DepositAddressText(address.address, demo=address.demo)

    # --- money movements -----------------------------------------------------------------

    async def find_recipient(self, *, customer_id: int, phone_text: str) -> Recipient:
        e164 = normalize_phone(phone_text)
        async with self._session() as session:
            me = await identity.get_customer(session=session, customer_id=customer_id)
            if me.phone == e164:
                raise SelfSend("cannot send to yourself")
            other = await identity.get_customer_by_phone(session=session, phone=e164)
            return Recipient(phone=e164, name=other.name if other is not None else None)

    async def quote_buy(self, *, customer_id: int, asset: Asset, kes_amount: Money) -> QuoteView:
        return await trading.quote(self, customer_id=customer_id, kind="buy", asset=asset, amount=kes_amount)

    async def quote_sell(self, *, customer_id: int, amount: Money) -> QuoteView:
        return await trading.quote(
            self, customer_id=customer_id, kind="sell", asset=amount.asset, amount=amount
        )

    async def quote_send(self, *, customer_id: int, to_phone: str, amount: Money) -> QuoteView:
        return await trading.quote_send(self, customer_id=customer_id, to_phone=to_phone, amount=amount)

    async def confirm_buy(
        self, *, customer_id: int, quote_id: str, pin: str, idempotency_key: str
    ) -> Receipt:
        return await trading.confirm_buy(
            self, customer_id=customer_id, quote_id=quote_id, pin=pin, idempotency_key=idempotency_key
        )

    async def confirm_sell(
        self, *, customer_id: int, quote_id: str, pin: str, idempotency_key: str
    ) -> Receipt:
        return await trading.confirm_sell(
            self, customer_id=customer_id, quote_id=quote_id, pin=pin, idempotency_key=idempotency_key
        )

    async def confirm_send(
        self, *, customer_id: int, quote_id: str, to_phone: str, pin: str, idempotency_key: str
    ) -> Receipt:
        return await trading.confirm_send(
            self, customer_id=customer_id, quote_id=quote_id, to_phone=to_phone, pin=pin,
            idempotency_key=idempotency_key,
        )  # fmt: skip

    async def quote_withdraw(self, *, customer_id: int, amount: Money, address: str) -> QuoteView:
        return await withdrawals.quote_withdraw(self, customer_id=customer_id, amount=amount, address=address)

    async def confirm_withdraw(
        self, *, customer_id: int, quote_id: str, address: str, pin: str, idempotency_key: str
    ) -> Receipt:
        return await withdrawals.confirm_withdraw(
            self, customer_id=customer_id, quote_id=quote_id, address=address, pin=pin,
            idempotency_key=idempotency_key,
        )  # fmt: skip

    # --- issue 19: limits before the PIN, cash out, buy from the wallet, sell by KES, addresses ---

    async def check_amount(self, *, customer_id: int, kind: str, amount: Money) -> None:
        await limits.check_amount(self, customer_id=customer_id, kind=kind, amount=amount)

    async def quote_buy_from_wallet(self, *, customer_id: int, asset: Asset, kes_amount: Money) -> QuoteView:
        return await trading.quote(
            self, customer_id=customer_id, kind="buy", asset=asset, amount=kes_amount, rail=Rail.WALLET
        )

    async def quote_sell_for_kes(self, *, customer_id: int, asset: Asset, kes_amount: Money) -> QuoteView:
        return await trading.quote(
            self, customer_id=customer_id, kind="sell", asset=asset, amount=kes_amount, given=Given.RECEIVE
        )

    async def quote_cashout(self, *, customer_id: int, amount: Money) -> CashoutQuote:
        return await cashout.quote(self, customer_id=customer_id, amount=amount)

    async def cashout_maximum(self, *, customer_id: int) -> Money:
        return await cashout.maximum(self, customer_id=customer_id)

    async def confirm_cashout(
        self, *, customer_id: int, amount: Money, fee: Money, pin: str, idempotency_key: str
    ) -> Receipt:
        return await cashout.confirm(
            self, customer_id=customer_id, amount=amount, fee=fee, pin=pin, idempotency_key=idempotency_key
        )

    async def saved_addresses(self, *, customer_id: int) -> list[SavedAddressView]:
        return await addressbook.saved_addresses(self.rt, customer_id=customer_id)

    # --- self-care (issue 19): rates, pending items, PIN check, forgotten PIN ---------------

    async def rates(self) -> list[RateLine]:
        return await selfcare.rates(self)

    async def pending(self, *, customer_id: int) -> list[PendingLine]:
        return await selfcare.pending(self, customer_id=customer_id)

    async def check_pin(self, *, customer_id: int, pin: str) -> None:
        await selfcare.check_pin(self, customer_id=customer_id, pin=pin)

    async def start_pin_reset(self, *, phone: str) -> None:
        await selfcare.start_pin_reset(self, phone=phone)

    async def finish_pin_reset(self, *, phone: str, otp: str, national_id: str | None, new_pin: str) -> None:
        await selfcare.finish_pin_reset(self, phone=phone, otp=otp, national_id=national_id, new_pin=new_pin)

    # --- pay a merchant (issue 16) ---------------------------------------------------------

    async def find_merchant(self, *, till: str) -> MerchantView:
        return await merchant_pay.find_merchant(self, till=till)

    async def quote_pay_merchant(
        self, *, customer_id: int, till: str, amount: Money, asset: Asset
    ) -> QuoteView:
        return await merchant_pay.quote(self, customer_id=customer_id, till=till, amount=amount, asset=asset)

    async def confirm_pay_merchant(
        self, *, customer_id: int, till: str, quote_id: str, pin: str, idempotency_key: str
    ) -> Receipt:
        return await merchant_pay.confirm(
            self,
            customer_id=customer_id,
            till=till,
            quote_id=quote_id,
            pin=pin,
            idempotency_key=idempotency_key,
        )


__all__ = ["CoreFlows", "KibetiError"]
