"""Codes used dynamically (by error class, state or use case), marked here for Babel extraction."""

from __future__ import annotations

from core.i18n import N_

DYNAMIC_CODES = (
    N_("error.limit_transaction_exceeded"),
    N_("error.limit_daily_exceeded"),
    N_("error.limit_monthly_exceeded"),
    N_("error.limit_balance_exceeded"),
    N_("error.limit_crypto_withdrawal_exceeded"),
    N_("error.tier_crypto_withdrawal_not_allowed"),
    N_("error.account_frozen"),
    N_("ussd.kind.quote_buy"),
    N_("ussd.kind.quote_sell"),
    N_("ussd.kind.sent"),
    N_("ussd.kind.received"),
    N_("ussd.kind.mpesa_collection"),
    N_("ussd.kind.mpesa_payout"),
    N_("ussd.kind.mpesa_c2b"),
    N_("ussd.kind.deposit"),
    N_("ussd.kind.withdrawal"),
    N_("ussd.kind.claim_return"),
    N_("ussd.kind.mpesa_payout_refund"),
    N_("ussd.kind.buy"),
    N_("ussd.kind.sell"),
    N_("error.amount_too_large"),
    N_("error.amount_too_small"),
    N_("error.compliance_denied"),
    N_("error.compliance_review"),
    N_("error.customer_blocked"),
    N_("error.customer_not_found"),
    N_("error.insufficient_funds"),
    N_("error.invalid_amount"),
    N_("error.invalid_choice"),
    N_("error.invalid_name"),
    N_("error.invalid_national_id"),
    N_("error.invalid_phone"),
    N_("error.invalid_pin"),
    N_("error.limit_exceeded"),
    N_("error.not_registered"),
    N_("error.phone_taken"),
    N_("error.pin_incorrect"),
    N_("error.pin_locked"),
    N_("error.pin_mismatch"),
    N_("error.pin_trivial"),
    N_("error.quote_expired"),
    N_("error.quote_not_found"),
    N_("error.quote_used"),
    N_("error.rates_unavailable"),
    N_("error.self_send"),
    N_("error.service_unavailable"),
    N_("error.withdrawals_cooldown"),
    N_("error.national_id_taken"),
    N_("error.pin_incorrect_left"),
    N_("error.pin_incorrect_last"),
    N_("error.pin_locked_minutes"),
    N_("error.pin_locked_hours"),
    N_("error.amount_below_minimum"),
    N_("error.amount_below_fee"),
    N_("error.amount_below_payout_minimum"),
    N_("error.insufficient_funds_final"),
    N_("sms.buy_failed"),
    N_("sms.buy_receipt"),
    N_("sms.claim_returned"),
    N_("sms.claimed"),
    N_("sms.deposit_address"),
    N_("sms.deposit_credited"),
    N_("sms.invite"),
    N_("sms.paybill_received"),
    N_("sms.receive_receipt"),
    N_("sms.registered"),
    N_("sms.sell_failed"),
    N_("sms.sell_receipt"),
    N_("sms.send_receipt"),
    N_("sms.withdrawal_sent"),
    N_("ussd.account.kyc"),
    N_("ussd.account.language_set"),
    N_("ussd.account.pin_changed"),
    N_("ussd.buy.asset"),
    N_("ussd.buy.done"),
    N_("ussd.buy.quote"),
    N_("ussd.kyc.status.none"),
    N_("ussd.kyc.status.pending"),
    N_("ussd.kyc.status.verified"),
    N_("ussd.op.buy"),
    N_("ussd.op.sell"),
    N_("ussd.op.send"),
    N_("ussd.receive.done"),
    N_("ussd.reg.declined"),
    N_("ussd.reg.done"),
    N_("ussd.sell.asset"),
    N_("ussd.sell.done"),
    N_("ussd.sell.quote"),
    N_("ussd.send.done"),
    N_("ussd.send.done_claim"),
)

# Chain wallets: the demo's deposit address, on the USSD receive screen and in its SMS
WALLET_CODES = (N_("sms.deposit_address_demo"), N_("ussd.receive.done_demo"))

# Compliance (issue 12): registration's date of birth, PIN notices, review outcomes
COMPLIANCE_CODES = (
    N_("ussd.reg.dob"),
    N_("error.invalid_dob"),
    N_("error.dob_too_young"),
    N_("error.pin_reset_pending"),
    N_("sms.pin_reset"),
    N_("sms.pin_reset_started"),
    N_("sms.pin_changed"),
    N_("sms.pin_locked"),
    N_("compliance.sms.verified"),
    N_("compliance.sms.identity_review"),
    N_("compliance.sms.identity_rejected"),
    N_("compliance.sms.inbound_held"),
    N_("compliance.sms.inbound_approved"),
    N_("compliance.sms.inbound_refused"),
    N_("compliance.sms.inbound_expired"),
    N_("compliance.sms.request_approved"),
    N_("compliance.sms.request_refused"),
    N_("compliance.sms.request_expired"),
)

# USSD help and care, rates, pending items, forgotten PIN (issue 19): codes chosen at run time
SELF_CARE_CODES = (
    N_("ussd.menu.main"),
    N_("ussd.menu.send"),
    N_("ussd.menu.deposit"),
    N_("ussd.menu.account"),
    N_("ussd.topup.done"),
    N_("ussd.help"),
    N_("ussd.help.care_line"),
    N_("ussd.rates.title"),
    N_("ussd.rates.line"),
    N_("ussd.rates.none"),
    N_("ussd.pending.title"),
    N_("ussd.pending.empty"),
    N_("ussd.pending.item"),
    N_("ussd.pending.deposit"),
    N_("ussd.pending.withdrawal"),
    N_("ussd.pending.payout"),
    N_("ussd.pending.hold"),
    N_("ussd.pin.forgot"),
    N_("ussd.pin.forgot_hint"),
    N_("ussd.pin.forgot_locked"),
    N_("ussd.pin.reset_code"),
    N_("ussd.pin.reset_code_staff"),
    N_("ussd.pin.reset_id"),
    N_("ussd.pin.reset_new"),
    N_("ussd.pin.reset_done"),
    N_("error.not_available"),
    N_("error.otp_invalid"),
    N_("error.otp_expired"),
    N_("error.otp_format"),
    N_("error.otp_rate_limited"),
    N_("error.national_id_mismatch"),
    N_("sms.deposit_seen"),
    N_("sms.withdrawal_confirmed"),
    N_("sms.withdrawal_failed"),
)

# Payouts: a failed M-Pesa payout returns the principal and the fee; the SMS points to the cash-out menu
PAYOUT_CODES = (N_("sms.payout_failed_refunded"),)

# Per-phone limits on every channel (core.ratelimit.RateLimited)
RATE_LIMIT_CODES = (N_("error.rate_limited"),)

# Issue 19's money paths (H5a): limits before the PIN, saved addresses, networks in SMS, resume texts
MONEY_PATH_CODES = (
    N_("error.amount_format_kes"),
    N_("error.amount_format_crypto"),
    N_("error.amount_over_tx_limit"),
    N_("error.amount_over_daily_limit"),
    N_("error.amount_over_monthly_limit"),
    N_("error.amount_over_withdrawal_limit"),
    N_("error.amount_over_max"),
    N_("error.amount_over_balance"),
    N_("error.amount_over_tx_limit_top"),
    N_("error.amount_over_daily_limit_top"),
    N_("error.amount_over_monthly_limit_top"),
    N_("error.amount_over_withdrawal_limit_top"),
    N_("error.address_not_saved"),
    N_("error.address_label_invalid"),
    N_("error.address_book_full"),
    N_("error.address_refused"),
    N_("network.usdt_trc20"),
    N_("network.usdt_erc20"),
    N_("ussd.op.cashout"),
    N_("ussd.op.withdraw"),
    N_("ussd.kind.cashout_fee"),
    N_("ussd.kind.merchant_payment"),
    N_("ussd.kind.merchant_refund"),
)

# Compliance (issue 12): what raises a customer's limits next (CustomerLimits.next_step)
KYC_NEXT_CODES = (
    N_("ussd.kyc.next.verify_id"),
    N_("ussd.kyc.next.identity_review"),
    N_("ussd.kyc.next.documents"),
)

# Chain wallets: a withdrawal quote whose network fee cannot be estimated, or a network not served here
WALLET_ERROR_CODES = (N_("error.chain_node_error"), N_("error.wallet_not_configured"))

# Telegram (issue 14): menu buttons, translated by action (telegram.button.<action>)
TELEGRAM_CODES = (
    N_("telegram.button.bal"),
    N_("telegram.button.rates"),
    N_("telegram.button.lang"),
    N_("telegram.button.unlink"),
    N_("telegram.button.menu"),
    N_("error.limit_rate_unavailable"),
)

# USSD wording (QA): what a KES amount may look like, a till that is not digits, and the KYC screen's
# limits with a shorter "what next" hint (ussd.kyc.hint.<next_step>) so the Swahili screen keeps it
USSD_WORDING_CODES = (
    N_("error.amount_format_kes_any"),
    N_("error.amount_format_kes_whole"),
    N_("error.merchant_till_digits"),
    N_("ussd.account.kyc_limits"),
    N_("ussd.kyc.hint.verify_id"),
    N_("ussd.kyc.hint.identity_review"),
    N_("ussd.kyc.hint.documents"),
)
