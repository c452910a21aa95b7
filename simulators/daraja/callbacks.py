"""Daraja-shaped callback bodies the simulator sends (PROTOCOLS.md 1.3, 1.5, 1.7, 1.8)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from simulators.daraja.state import B2CTxn, C2BTxn, StkTxn, eat_time


def _params(pairs: dict[str, Any]) -> dict[str, Any]:
    return {"ResultParameter": [{"Key": k, "Value": v} for k, v in pairs.items()]}


def _number(amount: Decimal) -> int | float:
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def b2c_result(txn: B2CTxn, utility: Decimal) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ResultType": 0,
        "ResultCode": int(txn.result_code) if txn.result_code.isdigit() else txn.result_code,
        "ResultDesc": txn.result_desc,
        "OriginatorConversationID": txn.originator_conversation_id,
        "ConversationID": txn.conversation_id,
        "TransactionID": txn.receipt,
        "ReferenceData": {"ReferenceItem": {"Key": "QueueTimeoutURL", "Value": txn.timeout_url}},
    }
    if txn.paid:
        result["ResultParameters"] = _params(
            {
                "TransactionAmount": _number(txn.amount),
                "TransactionReceipt": txn.receipt,
                "ReceiverPartyPublicName": f"{txn.party_b} - SIMULATED CUSTOMER",
                "TransactionCompletedDateTime": eat_time(),
                "B2CUtilityAccountAvailableFunds": _number(utility),
                "B2CWorkingAccountAvailableFunds": 0,
                "B2CRecipientIsRegisteredCustomer": "Y",
                "B2CChargesPaidAccountAvailableFunds": 0,
            }
        )
    return {"Result": result}


def b2c_timeout(txn: B2CTxn) -> dict[str, Any]:
    return {
        "Result": {
            "ResultType": 0,
            "ResultCode": "SVC0403",
            "ResultDesc": "The request timed out in the API proxy queue.",
            "OriginatorConversationID": txn.originator_conversation_id,
            "ConversationID": txn.conversation_id,
            "TransactionID": "",
        }
    }


def status_result(query_ocid: str, conversation_id: str, txn: B2CTxn | None) -> dict[str, Any]:
    if txn is None:
        return {
            "Result": {
                "ResultType": 0,
                "ResultCode": "R000001",
                "ResultDesc": "The transaction does not exist.",
                "OriginatorConversationID": query_ocid,
                "ConversationID": conversation_id,
                "TransactionID": "",
            }
        }
    return {
        "Result": {
            "ResultType": 0,
            "ResultCode": 0,
            "ResultDesc": "The service request is processed successfully.",
            "OriginatorConversationID": query_ocid,
            "ConversationID": conversation_id,
            "TransactionID": txn.receipt,
            "ResultParameters": _params(
                {
                    "DebitPartyName": "600000 - Kibeti",
                    "CreditPartyName": f"{txn.party_b} - SIMULATED CUSTOMER",
                    "OriginatorConversationID": txn.originator_conversation_id,
                    "InitiatedTime": txn.initiated,
                    "DebitAccountType": "Utility Account",
                    "DebitPartyCharges": "",
                    "ReasonType": txn.result_desc,
                    "TransactionStatus": "Completed" if txn.paid else "Failed",
                    "TransactionResultCode": txn.result_code,
                    "FinalisedTime": txn.initiated,
                    "Amount": _number(txn.amount),
                    "ConversationID": txn.conversation_id,
                    "ReceiptNo": txn.receipt,
                }
            ),
        }
    }


def c2b_status_result(query_ocid: str, conversation_id: str, txn: C2BTxn, shortcode: str) -> dict[str, Any]:
    """Transaction Status of a paybill payment the simulator received (PROTOCOLS.md 1.7)."""
    return {
        "Result": {
            "ResultType": 0,
            "ResultCode": 0,
            "ResultDesc": "The service request is processed successfully.",
            "OriginatorConversationID": query_ocid,
            "ConversationID": conversation_id,
            "TransactionID": txn.trans_id,
            "ResultParameters": _params(
                {
                    "DebitPartyName": f"{txn.msisdn[:5]}****{txn.msisdn[-3:]} - SIMULATED CUSTOMER",
                    "CreditPartyName": f"{txn.shortcode or shortcode} - Kibeti",
                    "OriginatorConversationID": "",
                    "InitiatedTime": txn.trans_time,
                    "DebitAccountType": "MMF Account For Customer",
                    "DebitPartyCharges": "",
                    "ReasonType": "Pay Bill Online",
                    "TransactionStatus": "Completed",
                    "FinalisedTime": txn.trans_time,
                    "Amount": _number(txn.amount),
                    "ConversationID": conversation_id,
                    "ReceiptNo": txn.trans_id,
                }
            ),
        }
    }


def balance_result(query_ocid: str, conversation_id: str, utility: Decimal) -> dict[str, Any]:
    text = (
        f"Working Account|KES|0.00|0.00|0.00|0.00&Utility Account|KES|{utility:.2f}|{utility:.2f}|0.00|0.00"
        "&Charges Paid Account|KES|0.00|0.00|0.00|0.00"
    )
    return {
        "Result": {
            "ResultType": 0,
            "ResultCode": "0",
            "ResultDesc": "The service request is processed successfully.",
            "OriginatorConversationID": query_ocid,
            "ConversationID": conversation_id,
            "TransactionID": "",
            "ResultParameters": _params({"AccountBalance": text, "BOCompletedTime": 20260101120000}),
        }
    }


def stk_callback(txn: StkTxn) -> dict[str, Any]:
    stk: dict[str, Any] = {
        "MerchantRequestID": txn.merchant_request_id,
        "CheckoutRequestID": txn.checkout_request_id,
        "ResultCode": int(txn.result_code),
        "ResultDesc": txn.result_desc,
    }
    if txn.result_code == "0":
        reported = Decimal(txn.behaviour.amount_override) if txn.behaviour.amount_override else txn.amount
        stk["CallbackMetadata"] = {
            "Item": [
                {"Name": "Amount", "Value": _number(reported)},
                {"Name": "MpesaReceiptNumber", "Value": txn.receipt},
                {"Name": "Balance"},
                {"Name": "TransactionDate", "Value": 20260101120000},
                {"Name": "PhoneNumber", "Value": int(txn.msisdn)},
            ]
        }
    return {"Body": {"stkCallback": stk}}


def b2b_result(txn: B2CTxn, account_reference: str, working: Decimal) -> dict[str, Any]:
    """A B2B (BusinessBuyGoods / BusinessPayBill) result: `Amount` and the receiver's public name in
    ResultParameters, the bill reference in ReferenceData (a list here, as Daraja's B2B sample)."""
    result: dict[str, Any] = {
        "ResultType": "0",
        "ResultCode": txn.result_code,
        "ResultDesc": txn.result_desc,
        "OriginatorConversationID": txn.originator_conversation_id,
        "ConversationID": txn.conversation_id,
        "TransactionID": txn.receipt,
        "ReferenceData": {
            "ReferenceItem": [
                {"Key": "BillReferenceNumber", "Value": account_reference},
                {"Key": "QueueTimeoutURL", "Value": txn.timeout_url},
            ]
        },
    }
    if txn.paid:
        balance = (
            f"{{Amount={{CurrencyCode=KES, MinimumAmount={int(working * 100)}, BasicAmount={working:.2f}}}}}"
        )
        result["ResultParameters"] = _params(
            {
                "DebitAccountBalance": balance,
                "Amount": f"{txn.amount:.2f}",
                "DebitPartyAffectedAccountBalance": f"Working Account|KES|{working:.2f}|{working:.2f}|0.00|0.00",  # noqa: E501
                "TransCompletedTime": (datetime.now(UTC) + timedelta(hours=3)).strftime("%Y%m%d%H%M%S"),
                "DebitPartyCharges": "",
                "ReceiverPartyPublicName": f"{txn.party_b} - SIMULATED MERCHANT",
                "Currency": "KES",
                "InitiatorAccountCurrentBalance": balance,
            }
        )
    return {"Result": result}
