"""Register the paybill's C2B validation and confirmation URLs with Daraja (PROTOCOLS.md 1.6).

In production this is done once (`kibeti mpesa register-c2b`): Safaricom keeps the URLs and
changing them needs a request to Safaricom. The simulator the web app mounts at /daraja-sim (the
embedded default) keeps them in memory, so the web app registers them at every start, once it is
listening (the simulator is served by the same process). Registering again replaces them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from core.runtime import Runtime
from payouts import adapter
from payouts.mpesa.errors import DarajaError

log = logging.getLogger(__name__)


async def register(runtime: Runtime, *, response_type: str = "Completed") -> dict[str, Any]:
    """One RegisterURL call with this runtime's callback URLs; DarajaError when refused."""
    async with adapter.daraja(runtime) as daraja:
        return await daraja.client.c2b_register(response_type=response_type)


async def registered_with_simulator(runtime: Runtime) -> dict[str, str]:
    """The URLs the simulator holds ({} when none, or when MPESA_BASE_URL is not a simulator)."""
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{adapter.base_url(runtime.settings)}/simulator/c2b", timeout=10)
    try:
        urls = response.json().get("urls") if response.status_code == 200 else None
    except (ValueError, AttributeError):
        urls = None
    return dict(urls) if isinstance(urls, dict) else {}


async def register_when_listening(runtime: Runtime, *, attempts: int = 60, pause_s: float = 0.25) -> bool:
    """Wait until the simulator answers (this process starts listening after its start-up), then
    register. Never raises: a failure is logged, and `kibeti mpesa simulate-c2b` registers too."""
    url = adapter.base_url(runtime.settings)
    async with httpx.AsyncClient() as http:
        for _ in range(attempts):
            try:
                if (await http.get(f"{url}/", timeout=2)).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(pause_s)
        else:
            log.warning("C2B URLs not registered: the Daraja simulator at %s did not answer", url)
            return False
    try:
        await register(runtime)
    except (DarajaError, httpx.HTTPError, OSError) as exc:
        log.warning("C2B URLs not registered with the Daraja simulator: %s", exc)
        return False
    log.info("C2B validation and confirmation URLs registered with the Daraja simulator")
    return True
