"""Telegram linking errors: flat, each with a stable `code` the channel translates."""

from __future__ import annotations

from core.errors import KibetiError


class NotLinked(KibetiError):
    code = "telegram_not_linked"


class ContactNotOwn(KibetiError):
    """A shared contact that is not the sender's own (forwarded, or someone else's card)."""

    code = "telegram_contact_not_own"
