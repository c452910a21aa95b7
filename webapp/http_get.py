"""The httpx implementation of core.fx.sources.HttpGet (core does no I/O): GET a JSON URL with a
timeout, transport failures as TimeoutError / ConnectionError naming what failed."""

from __future__ import annotations

from collections.abc import Mapping

import httpx


async def httpx_get(url: str, *, params: Mapping[str, str] | None, timeout_s: float) -> tuple[int, bytes]:
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(timeout_s)) as client:
            response = await client.get(url, params=params, headers={"Accept": "application/json"})
    except httpx.TimeoutException as exc:
        raise TimeoutError(str(exc)) from exc
    except httpx.HTTPError as exc:
        raise ConnectionError(f"{type(exc).__name__}: {exc}") from exc
    return response.status_code, response.content
