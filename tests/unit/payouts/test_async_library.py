"""httpcore asks which async library runs it several times per request (`import sniffio`, then
`sniffio.current_async_library()`): sniffio is a locked dependency, so the answer comes from a module
already imported instead of a failed import that searched sys.path again each time (~50-90 us a call,
four calls a Daraja request, measured)."""

from __future__ import annotations

import asyncio
import sys

import httpcore._synchronization

import payouts.adapter  # noqa: F401 - the module that once stubbed sniffio out of sys.modules


def test_sniffio_is_installed_and_never_stubbed_out() -> None:
    import sniffio

    assert sys.modules["sniffio"] is sniffio


def test_httpcore_finds_asyncio_through_sniffio() -> None:
    async def ask() -> tuple[str, str]:
        import sniffio

        return sniffio.current_async_library(), httpcore._synchronization.current_async_library()

    assert asyncio.run(ask()) == ("asyncio", "asyncio")
