"""`kibeti serve`: the web app (API, USSD/M-Pesa callbacks, portals)."""

from __future__ import annotations

from typing import Any

import click

from core.config import Settings, override_for_this_process
from webapp import serving


@click.command(name="serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Processes (production: with Redis).",
)
@click.option(
    "--reuse-port",
    is_flag=True,
    help="Each worker listens on a socket of its own (SO_REUSEPORT): the kernel spreads connections "
    "evenly over the workers. Set net.ipv4.tcp_migrate_req=1 so a worker's exit hands its queued "
    "connections to the others.",
)
def cli(host: str, port: int, workers: int, reuse_port: bool) -> None:
    """Serve Kibeti over HTTP."""
    click.echo(f"Kibeti on http://{host}:{port}  (phone simulator: http://{host}:{port}/phone)", err=True)
    settings = Settings()
    if not settings.is_production and "mpesa_callback_base_url" not in settings.model_fields_set:
        # M-Pesa callbacks (and the built-in Daraja simulator) must reach this server, on this port.
        own = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104
        override_for_this_process(mpesa_callback_base_url=own)
        if port != 8000:
            click.echo(
                f"M-Pesa callbacks: {own} (other kibeti commands: export MPESA_CALLBACK_BASE_URL={own})",
                err=True,
            )
    if not settings.is_production and "pesapal_public_base_url" not in settings.model_fields_set:
        # PesaPal payment links and IPNs (and the built-in PesaPal simulator) reach this server too
        own = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104
        override_for_this_process(pesapal_public_base_url=own)
    # uvicorn's own access log is neither JSON nor masked (callback paths carry secret tokens);
    # our middleware logs every request instead, with those paths cut short.
    serving.run(
        "webapp.main:app",
        host=host,
        port=port,
        workers=workers,
        reuse_port=reuse_port,
        log_level="info",
        access_log=False,
        **proxy_options(settings),
    )


def proxy_options(settings: Settings) -> dict[str, Any]:
    """Forwarded addresses only from TRUSTED_PROXIES: uvicorn's default trusts X-Forwarded-For from
    127.0.0.1, which would hand the callback allow-list and the rate limiter a spoofed address."""
    proxies = [entry.strip() for entry in settings.trusted_proxies if entry.strip()]
    return {"proxy_headers": bool(proxies), "forwarded_allow_ips": proxies}
