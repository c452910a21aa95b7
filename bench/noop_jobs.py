"""A job that does nothing: the RQ queue's own ceiling, for bench_payouts.py (kept import-free)."""


async def noop() -> None:
    return None
