"""Named errors of the portal sign-in."""

from __future__ import annotations

from core.errors import KibetiError


class NotRegistered(KibetiError):
    """The number has no Kibeti account: register on USSD (or Telegram) first."""

    code = "portal_not_registered"
    http_status = 404
