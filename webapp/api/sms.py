"""Africa's Talking SMS callbacks (issue 14): POST /sms/{secret}/incoming and /sms/{secret}/delivery."""

from __future__ import annotations

from channels.sms.router import router

__all__ = ["router"]
