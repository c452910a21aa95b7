"""Africa's Talking USSD callbacks (issue 6): POST /ussd/{secret} and /ussd/{secret}/events."""

from __future__ import annotations

from channels.ussd.router import hop_route, router

# tried before every other route of the app (webapp.app): every keypress of every session is a hop
first_routes = [hop_route]

__all__ = ["first_routes", "router"]
