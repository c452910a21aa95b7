"""The CollectionRail port over Daraja's STK push (Lipa na M-Pesa Online): the second adapter beside
PesaPal's. A prompt on the customer's Safaricom phone; its outcome from our own STK Query.

Every STK push goes out through this adapter (payouts.jobs.request_stk_push, the job an M-Pesa
collection row enqueues: buys, invoices); the callback, `confirm_stk` and `complete_buy` stay the
M-Pesa confirmed-crediting path (core.payments.confirmed). STK has no refund call (money goes
back by a B2C payout) and no cancel (an unanswered prompt expires on the phone); STK Query does not
report the amount, so a result's amount is None ("the provider does not say").
"""

from __future__ import annotations

from core.money import Money
from core.ports import CollectionResult, CollectionStarted, CollectionState
from core.rails.errors import RailOutcomeUnknown, RailRefused, RailUnavailable
from core.runtime import Runtime
from payouts.adapter import daraja
from payouts.mpesa import errors

RAIL = "mpesa"
# STK Query ResultCode -> state ("0" paid; the customer cancelled, timed out, wrong PIN, no funds: failed)
FAILED_CODES = frozenset({"1", "1001", "1019", "1025", "1032", "1037", "2001", "9999"})


class DarajaStkRail:
    name = RAIL

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def start_collection(
        self, *, reference: str, phone: str, amount: Money, description: str
    ) -> CollectionStarted:
        try:
            async with daraja(self._runtime) as d:
                accepted = await d.client.stk_push(
                    phone=phone, amount=int(amount.whole_units().amount), account_reference=reference[:12],
                    description=description[:13] or "Kibeti",
                )  # fmt: skip
        except (errors.DarajaBusy, errors.DarajaUnavailable, errors.DarajaAuthError) as exc:
            raise RailUnavailable(f"STK push: {exc}") from exc
        except errors.DarajaOutcomeUnknown as exc:  # may have gone out: never pushed again blindly
            raise RailOutcomeUnknown(f"STK push outcome unknown: {exc}") from exc
        except (errors.DarajaError, ValueError) as exc:
            code = getattr(exc, "error_code", "") or "rejected"
            raise RailRefused(f"STK push refused: {exc}", provider_code=code) from exc
        return CollectionStarted(
            provider_reference=accepted.checkout_request_id, provider_request_id=accepted.merchant_request_id
        )

    async def collection_status(self, *, provider_reference: str) -> CollectionResult:
        try:
            async with daraja(self._runtime) as d:
                status = await d.client.stk_query(checkout_request_id=provider_reference)
        except errors.StkPending:
            return CollectionResult(state=CollectionState.PENDING, merchant_reference="")
        except errors.DarajaError as exc:
            raise RailUnavailable(f"STK Query: {exc}") from exc
        code = str(status.result_code)
        if code == "0":
            state = CollectionState.COMPLETED
        elif code in FAILED_CODES:
            state = CollectionState.FAILED
        else:
            state = CollectionState.PENDING
        return CollectionResult(
            state=state, merchant_reference="", method="M-Pesa", description=status.result_desc
        )

    async def refund_collection(self, *, confirmation: str, amount: Money, remarks: str) -> bool:
        raise RailRefused("an M-Pesa STK payment is refunded by a B2C payout, not by the collection rail")

    async def cancel_collection(self, *, provider_reference: str) -> bool:
        return False  # an unanswered STK prompt expires on the phone by itself
