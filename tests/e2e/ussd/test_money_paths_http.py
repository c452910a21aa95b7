"""Issue 19's USSD money paths over the Africa's Talking form, on PostgreSQL + Redis: cash out to
M-Pesa, buy from the KES balance, sell all / by KES value, withdraw to a saved address, limits told
before the PIN, and amounts told honestly (kept cents, "you send / they get / fee", the network)."""

from __future__ import annotations

from decimal import Decimal

import httpx
from sqlalchemy import select, update

from core.money import Asset
from core.payments import service as payments
from core.payments.models import MpesaCollection, Payout
from core.runtime import Runtime
from simulators.africastalking import FakeAfricasTalking
from tests.e2e.ussd.conftest import (
    balance_of,
    count_rows,
    customer_id_of,
    deliver_sms,
    fund,
    funded,
    refresh_rates,
    registered,
)

TRON_ADDRESS = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"


# 1. cash out ---------------------------------------------------------------------------------


async def test_cash_out_to_mpesa_with_the_fee_before_the_pin(
    client: httpx.AsyncClient, ussd_runtime: Runtime
) -> None:
    rt = ussd_runtime
    phone = await funded(client, rt, "+254712345678", "1", "600", "KES")
    await phone.dial()
    screen = await phone.send("5")
    assert screen == "CON Cash out to M-Pesa\nMax KES 570.00 (+fee)\nEnter KES amount", screen
    assert "Invalid amount. Enter an amount like 500 or 100.50" in await phone.send("abc")
    too_much = await phone.send("1000")
    assert too_much.startswith("CON Not enough balance: the most you can cash out is KES 570.00"), too_much
    confirm = await phone.send("500")
    assert confirm == (
        "CON Cash out KES 500.00 to M-Pesa 0712345678\nFee KES 30.00\nLeft in wallet KES 70.00\n"
        "Enter PIN to confirm"
    ), confirm
    done = await phone.send("4826")
    assert done == "END Done. KES 500.00 is on its way to your M-Pesa. You will get an SMS.", done
    assert (await phone.hop()).startswith("END")  # AT repeats the last hop: nothing moves twice
    assert await count_rows(rt, Payout) == 1
    assert await balance_of(rt, phone.number, "KES") == "70.00"
    await phone.dial()
    statement = await phone.send("7")
    assert "-KES 30.00 M-Pesa fee" in statement, statement  # the fee reads as what it is
    async with rt.session_factory() as session:
        payout = (await session.execute(select(Payout))).scalar_one()
        assert (payout.amount_minor, payout.phone) == (50_000, "254712345678")
        await payments.fail_payout(session=session, payout_id=payout.id, result_code="2001", reason="test")
        await session.commit()
    assert await balance_of(rt, phone.number, "KES") == "600.00"  # a failed payout gives the fee back too


async def test_cash_out_in_swahili_keeps_the_cents(client: httpx.AsyncClient, ussd_runtime: Runtime) -> None:
    rt = ussd_runtime
    phone = await funded(client, rt, "+254722000111", "2", "523.47", "KES", "Otieno Odhiambo")
    await phone.dial()
    assert "Toa pesa kwa M-Pesa\nHadi KES 493.00 (+ada)" in await phone.send("5")
    assert "M-Pesa hulipa angalau KES 10.00" in await phone.send("5")
    confirm = await phone.send("493.47")  # M-Pesa moves whole shillings: 493 goes, 0.47 stays
    assert confirm.startswith("CON Toa KES 493.00 kwa M-Pesa 0722000111\nAda KES 30.00\n"), confirm
    assert "Itabaki kwenye pochi KES 0.47" in confirm
    assert (await phone.send("4826")).startswith("END Imekamilika. KES 493.00 inatumwa kwa M-Pesa yako.")
    assert await balance_of(rt, phone.number, "KES") == "0.47"
    await phone.dial()
    nothing = await phone.send("5")
    assert nothing.startswith("END Salio lako la KES ni KES 0.47"), nothing


# 9. limits before the PIN --------------------------------------------------------------------


async def test_limits_are_told_at_the_amount_step_and_the_session_stays_open(
    client: httpx.AsyncClient, ussd_runtime: Runtime
) -> None:
    rt = ussd_runtime
    await refresh_rates(rt)
    phone = await funded(client, rt, "+254712345678", "1", "20000", "KES")
    await phone.dial()
    await phone.send("5")
    refused = await phone.send("6000")  # tier 0: KES 5,000 per transaction
    assert refused.startswith(
        "CON Amount too large: max KES 5,000.00 per transaction. Next: we are checking your ID; we will SMS you."
    ), refused
    assert refused.endswith("Enter KES amount")
    assert "Fee KES 30.00" in await phone.send("4000")  # another amount, same session
    for wrong in ("1111", "2222"):
        await phone.send(wrong)
    assert (await phone.send("3333")).startswith("END PIN locked")
    await phone.dial()  # a locked PIN is told at the amount step, before anything is quoted
    await phone.send("2")
    await phone.send("3")
    await phone.send("2")  # pay from the KES balance
    locked = await phone.send("100")
    assert locked.startswith("END PIN locked") and "min" in locked, locked
    assert await count_rows(rt, Payout) == 0


async def test_limits_in_swahili_name_the_maximum_in_the_asset_typed(
    client: httpx.AsyncClient, ussd_runtime: Runtime
) -> None:
    rt = ussd_runtime
    await refresh_rates(rt)
    phone = await funded(client, rt, "+254722000111", "2", "100", "USDT-TRC20", "Otieno Odhiambo")
    await phone.menu("3", "3", "3")  # an amount in USDT
    assert "Weka mfano 25.5 au 0.0005" in await phone.send("ten")
    refused = await phone.send("60")  # ~KES 7,700 > KES 5,000
    assert refused.startswith("CON Kiasi kikubwa mno: hadi USDT 38."), refused  # 5,000 / the bid
    assert "Uza USDT 20.00" in await phone.send("20")


# 2. buy with the KES balance -----------------------------------------------------------------


async def test_buy_usdt_trc20_from_the_kes_balance(
    client: httpx.AsyncClient, ussd_runtime: Runtime, at_fake: FakeAfricasTalking
) -> None:
    rt = ussd_runtime
    await refresh_rates(rt)
    phone = await funded(client, rt, "+254712345678", "1", "1000", "KES")
    await phone.dial()
    await phone.send("2")
    assert "Pay for USDT-TRC20 from\n1 M-Pesa\n2 Kibeti KES balance" in await phone.send("3")
    assert "You have KES 1,000.00" in await phone.send("2")
    assert "Not enough balance" in await phone.send("2000")
    quote = await phone.send("500")
    assert quote.startswith("CON Pay KES 500.00 from KES balance\nGet USDT "), quote
    done = await phone.send("4826")
    assert done.startswith("END Done. You bought USDT ") and "for KES 500.00 from your KES balance" in done
    assert (await phone.hop()).startswith("END")
    assert await balance_of(rt, phone.number, "KES") == "500.00"
    assert Decimal(await balance_of(rt, phone.number, "USDT-TRC20")) > 3
    assert await count_rows(rt, MpesaCollection) == 0  # no STK push
    await deliver_sms(rt)
    receipts = [m.message for m in at_fake.messages_for(phone.number) if "bought" in m.message]
    assert len(receipts) == 1 and " on TRON for KES 500.00" in receipts[0], receipts


async def test_buy_from_the_kes_balance_in_swahili(
    client: httpx.AsyncClient, ussd_runtime: Runtime, at_fake: FakeAfricasTalking
) -> None:
    rt = ussd_runtime
    await refresh_rates(rt)
    phone = await funded(client, rt, "+254722000111", "2", "300", "KES", "Otieno Odhiambo")
    await phone.dial()
    await phone.send("2")
    assert "2 Salio la KES la Kibeti" in await phone.send("2")
    assert "Una KES 300.00" in await phone.send("2")
    assert (await phone.send("300")).startswith("CON Lipa KES 300.00 kwa salio la KES")
    assert (await phone.send("4826")).startswith("END Imekamilika. Umenunua USDT ")
    assert await balance_of(rt, phone.number, "KES") == "0.00"
    await deliver_sms(rt)
    assert any("kwenye Ethereum" in m.message for m in at_fake.messages_for(phone.number))


# 5. sell all / by KES value, with the kept cents ---------------------------------------------


async def test_sell_all_btc_shows_what_stays_in_the_wallet(
    client: httpx.AsyncClient, ussd_runtime: Runtime
) -> None:
    rt = ussd_runtime
    await refresh_rates(rt)
    phone = await funded(client, rt, "+254712345678", "1", "0.0003", "BTC")
    await phone.dial()
    await phone.send("3")
    how = await phone.send("1")
    assert how.startswith("CON Sell BTC\nYou have BTC 0.0003\n1 All\n2 Amount in KES\n3 Amount in BTC"), how
    quote = await phone.send("1")
    assert quote.startswith("CON Sell BTC 0.0003\nTo M-Pesa KES "), quote
    kept = Decimal(await _kept(quote))
    assert (await phone.send("4826")).startswith("END Done.")
    assert (
        await balance_of(rt, phone.number, "BTC") == "0E-8"
        or Decimal(await balance_of(rt, phone.number, "BTC")) == 0
    )
    assert Decimal(await balance_of(rt, phone.number, "KES")) == kept  # only the cents M-Pesa cannot carry


def _paid(screen: str, prefix: str) -> Decimal:
    """The number after `prefix` on its line of a screen ("Arrives USDT 8.23875" -> 8.23875)."""
    line = next(line for line in screen.split("\n") if prefix in line)
    return Decimal(line.split(prefix, 1)[1].split(" ")[0].replace(",", ""))


async def _kept(quote: str) -> str:
    for line in quote.split("\n"):
        if line.startswith("Kept in wallet KES "):
            return line.removeprefix("Kept in wallet KES ")
    return "0"


async def test_sell_by_kes_value_in_swahili(client: httpx.AsyncClient, ussd_runtime: Runtime) -> None:
    rt = ussd_runtime
    await refresh_rates(rt)
    phone = await funded(client, rt, "+254722000111", "2", "20", "USDT-TRC20", "Otieno Odhiambo")
    await phone.menu("3", "3")
    assert "Weka KES unazotaka kupata kwa M-Pesa" in await phone.send("2")
    assert "Weka kiasi kama 500 au 100.50" in await phone.send("elfu")
    over = await phone.send("4000")  # USDT 20 fetches ~KES 2,500
    assert over.startswith("CON Kiasi kikubwa mno: kiwango cha juu ni KES 2,"), over
    quote = await phone.send("1000")
    assert quote.startswith("CON Uza USDT 7.99") and "\nKwa M-Pesa KES 1,000.00\n" in quote, quote
    assert (await phone.send("4826")).startswith("END Imekamilika.")
    assert Decimal(await balance_of(rt, phone.number, "USDT-TRC20")) == Decimal(20) - _paid(
        quote, "Uza USDT "
    )


# 11. crypto sends: you send, they get, the fee; SMS name the network -------------------------


async def test_crypto_send_shows_what_they_get_and_the_sms_names_the_network(
    client: httpx.AsyncClient, ussd_runtime: Runtime, at_fake: FakeAfricasTalking
) -> None:
    rt = ussd_runtime
    await refresh_rates(rt)  # a crypto send is valued in KES for the limits: no fresh rate, no send
    alice = await funded(client, rt, "+254712345678", "1", "50", "USDT-TRC20", "Alice Njeri")
    bob = await registered(client, "+254722000111", "2", "Bob Otieno")
    await alice.menu("4", "1", "0722000111", "4")
    confirm = await alice.send("10")
    assert confirm.startswith(
        "CON You send USDT 10.00\nBob Otieno 0722000111 gets USDT 9.95\nFee USDT 0.05"
    ), confirm
    assert (await alice.send("4826")).startswith("END Sent USDT 9.95 to Bob Otieno")
    await deliver_sms(rt)
    assert any("USDT 9.95 on TRON" in m.message for m in at_fake.messages_for(alice.number))
    assert any("USDT 9.95 kwenye TRON" in m.message for m in at_fake.messages_for(bob.number))


# 6. withdraw to a saved address --------------------------------------------------------------


async def _verified_with_a_saved_address(rt: Runtime, phone: str, tier: int = 1) -> None:
    from compliance import kyc
    from compliance.models import KycProfile
    from compliance.sanctions import store
    from compliance.sanctions.loader import SanctionsList
    from core.addressbook import flows as addressbook
    from core.identity.models import Customer

    customer_id = await customer_id_of(rt, phone)
    async with rt.session_factory() as session:
        await kyc.ensure_profile(session=session, customer_id=customer_id, now=rt.clock.now())
        await session.execute(update(Customer).where(Customer.id == customer_id).values(kyc_tier=tier))
        await session.execute(
            update(KycProfile).where(KycProfile.customer_id == customer_id).values(tier=tier)
        )
        await store.save_version(session=session, lists=SanctionsList.from_entities([]), loaded_by="test")
        await session.commit()
    await addressbook.save_address(
        rt, customer_id=customer_id, asset=Asset.USDT_TRC20, label="Binance", address=TRON_ADDRESS
    )


async def test_withdraw_usdt_to_a_saved_address(
    client: httpx.AsyncClient, ussd_runtime: Runtime, at_fake: FakeAfricasTalking
) -> None:
    rt = ussd_runtime
    await refresh_rates(rt)
    phone = await funded(client, rt, "+254712345678", "1", "50", "USDT-TRC20")
    await _verified_with_a_saved_address(rt, phone.number)
    await phone.dial()
    await phone.send("4")
    pick = await phone.send("2")
    assert "Withdraw to\n1 Binance TRC20 (...j6t)" in pick.replace("(...Lj6t)", "(...j6t)"), pick
    amount = await phone.send("1")
    assert amount.startswith("CON To Binance TRC20 (...Lj6t)\nYou have USDT 50.00\nEnter the USDT amount"), (
        amount
    )
    assert "Not enough balance" in await phone.send("51")
    confirm = await phone.send("10")
    assert confirm.startswith("CON You send USDT 10.00\nArrives USDT "), confirm
    assert "incl. network\nTo Binance TRC20 (...Lj6t)\nEnter PIN" in confirm
    arrives, fee = _paid(confirm, "Arrives USDT "), _paid(confirm, "Fee USDT ")
    assert arrives + fee == 10 and fee >= Decimal("0.05"), confirm  # 0.5 % (and the network fee)
    done = await phone.send("4826")
    assert done.startswith(f"END Done. USDT {arrives} is on its way to Binance (...Lj6t)"), done
    assert await balance_of(rt, phone.number, "USDT-TRC20") == "40.000000"
    await deliver_sms(rt)
    sent = [m.message for m in at_fake.messages_for(phone.number) if "on its way" in m.message]
    assert len(sent) == 1 and f"USDT {arrives} on TRON is on its way to TR7NHqje" in sent[0], sent


async def test_withdraw_in_swahili_and_the_tier_told_at_the_menu(
    client: httpx.AsyncClient, ussd_runtime: Runtime
) -> None:
    rt = ussd_runtime
    await refresh_rates(rt)
    phone = await funded(client, rt, "+254722000111", "2", "50", "USDT-TRC20", "Otieno Odhiambo")
    await phone.dial()
    await phone.send("4")
    assert (await phone.send("2")).startswith("END Huna anwani zilizohifadhiwa.")
    await _verified_with_a_saved_address(rt, phone.number, tier=0)
    await phone.dial()
    await phone.send("4")
    assert "Tuma kwa\n1 Binance TRC20" in await phone.send("2")
    assert (await phone.send("1")).startswith("END Kutoa crypto kunahitaji akaunti iliyothibitishwa")
    await _verified_with_a_saved_address(rt, phone.number, tier=1)
    await phone.menu("4", "2")
    assert "Una USDT 50.00" in await phone.send("1")
    confirm = await phone.send("5")
    assert confirm.startswith("CON Unatuma USDT 5.00\nInafika USDT "), confirm
    arrives = _paid(confirm, "Inafika USDT ")
    assert (await phone.send("4826")).startswith(f"END Imekamilika. USDT {arrives} inatumwa kwa Binance")


async def test_an_account_hold_is_told_at_the_amount_step(
    client: httpx.AsyncClient, ussd_runtime: Runtime
) -> None:
    from compliance import kyc
    from compliance.models import KycProfile

    rt = ussd_runtime
    phone = await funded(client, rt, "+254712345678", "2", "600", "KES")
    customer_id = await customer_id_of(rt, phone.number)
    async with rt.session_factory() as session:
        await kyc.ensure_profile(session=session, customer_id=customer_id, now=rt.clock.now())
        await session.execute(
            update(KycProfile).where(KycProfile.customer_id == customer_id).values(frozen=True)
        )
        await session.commit()
    await phone.dial()
    await phone.send("5")
    held = await phone.send("100")
    assert held.startswith("END Akaunti yako imesimamishwa kwa muda."), held
    assert await count_rows(rt, Payout) == 0


async def test_at_the_top_tier_the_maximum_is_named_without_a_way_to_raise_it(
    client: httpx.AsyncClient, ussd_runtime: Runtime
) -> None:
    rt = ussd_runtime
    await refresh_rates(rt)
    phone = await registered(client, "+254712345678", "1")
    await fund(rt, phone.number, "0.1", "BTC")  # ~KES 1.2 million
    await _verified_with_a_saved_address(rt, phone.number, tier=2)  # KES 1,000,000 per transaction
    await phone.menu("3", "1", "3")  # an amount in BTC
    refused = await phone.send("0.1")
    assert refused.startswith("CON Amount too large: the most per transaction is BTC 0.08"), refused
    assert "verify" not in refused and refused.endswith("Enter the amount to sell"), refused
