"""Staff users (password + TOTP, roles), JWT sessions, and merchant API keys."""
