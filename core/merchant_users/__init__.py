"""People who sign in to the merchant dashboard (/merchant, issue 18): invited by staff, email +
password + TOTP, role owner (may change keys, webhooks, phones) or viewer (reads only)."""
