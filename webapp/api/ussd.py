"""Africa's Talking USSD callbacks (issue 6): POST /ussd/{secret} and /ussd/{secret}/events."""

from __future__ import annotations

from channels.ussd.router import router

__all__ = ["router"]
