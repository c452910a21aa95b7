"""M-Pesa (Daraja) adapter: client, simulator, RQ jobs and workers, the shortcode rate limiter.

Flow (core.payments owns the tables and state; this package talks to Daraja):
create_payout (hold + row + outbox, caller's transaction) -> outbox relay -> `payouts.jobs.send_payout`
(claim under a row lock, rate token, B2C v3 with OriginatorConversationID = payout id) -> result
callback on a secret path (webapp.api.mpesa: raw row first, 200, then `payouts.callbacks.process`)
-> hold posted or voided once. Timeouts, crashes and missing callbacks leave the payout `unknown`;
`payouts.jobs.reconcile_stuck_payouts` asks Transaction Status before anything is sent again.
Money in (paybill C2B, STK): a callback is a claim; `confirm_c2b` (Transaction Status, its result matched
on our query's ConversationID) or `confirm_stk` (STK Query) decides, and only then
core.payments.confirmed.credit_confirmed_mpesa books it. Only a documented "not processed" Daraja code
releases held funds; any other error or result is an unknown outcome for the reconciler.

Settings (core.config): MPESA_BASE_URL (empty: the simulator mounted at /daraja-sim), MPESA_CONSUMER_KEY/
SECRET, MPESA_SHORTCODE, MPESA_PASSKEY, MPESA_INITIATOR_NAME/PASSWORD, MPESA_CERTIFICATE_PATH (empty: the
simulator's), MPESA_CALLBACK_BASE_URL, MPESA_CALLBACK_TOKEN, MPESA_CALLBACK_PATH_PREFIX ("cb": Daraja refuses
callback URLs containing "mpesa", "query", "sql", ...; production refuses them at start-up),
MPESA_B2C_RATE_PER_HOUR (0: off).
Also (core.config.Settings, like every setting): MPESA_B2C_RATE_BURST (1), MPESA_RECONCILE_AFTER_S (120),
MPESA_SHORTCODE_DAILY_LIMIT_KES (20,000,000), MPESA_LOW_FLOAT_KES (50,000), MPESA_TIMEOUT_S (30),
KIBETI_WORKER_SETUP and KIBETI_WORKER_PRELOAD.
"""
