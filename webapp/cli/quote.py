"""`kibeti quote buy 1000 KES USDT-TRC20`: price and store a quote, print every number.

kibeti quote buy 1000 KES USDT-TRC20     pay KES 1,000 (M-Pesa), receive USDT-TRC20
kibeti quote buy 5 USDT-TRC20            receive exactly 5 USDT-TRC20 (or slightly more)
kibeti quote sell 0.001 BTC              sell 0.001 BTC, paid out to M-Pesa
kibeti quote sell 1000 KES BTC           receive KES 1,000 for BTC
kibeti quote send 10 USDT-ERC20 --network-fee 1.5
"""

from __future__ import annotations

import re

import click

from core.fx import jobs as fx_jobs
from core.fx.errors import RatesUnavailable
from core.fx.policy import FxPolicy
from core.money import Asset, parse_amount
from core.quotes import service as quotes
from core.quotes.maths import Given, QuoteKind, QuoteRequest, Rail
from core.quotes.text import compact_text, describe
from core.runtime import Runtime
from webapp.cli._common import run_with_runtime


def _request(
    kind: QuoteKind, amount: str, unit: str, asset: str | None, rail: str, network_fee: str | None
) -> QuoteRequest:
    unit_asset = Asset.parse(unit)
    crypto = Asset.parse(asset) if asset else unit_asset
    if not crypto.is_crypto:
        raise click.BadParameter("name the crypto asset: BTC, USDT-ERC20 or USDT-TRC20", param_hint="ASSET")
    money = parse_amount(amount, unit_asset)
    pays_in = Asset.KES if kind is QuoteKind.BUY else crypto
    if unit_asset not in (pays_in, Asset.KES if kind is QuoteKind.SELL else crypto):
        raise click.BadParameter(
            f"a {kind.value} amount is in {pays_in.value} or what you receive", param_hint="UNIT"
        )
    chain_fee = parse_amount(network_fee, crypto) if network_fee else None
    return QuoteRequest(
        kind=kind,
        asset=crypto,
        amount=money,
        given=Given.PAY if unit_asset is pays_in else Given.RECEIVE,
        rail=Rail(rail),
        chain_fee=chain_fee,
    )


def _run(kind: QuoteKind, amount: str, unit: str, asset: str | None, rail: str, language: str,
         network_fee: str | None) -> None:  # fmt: skip
    request = _request(kind, amount, unit, asset, rail, network_fee)

    async def work(runtime: Runtime) -> None:
        policy = FxPolicy.from_settings(runtime.settings)
        for refreshed in (False, True):  # once more after a refresh when no fresh rate is stored
            try:
                async with runtime.session_factory() as session:
                    row = await quotes.create_quote(
                        session=session, request=request, clock=runtime.clock, policy=policy
                    )
                    await session.commit()
                break
            except RatesUnavailable:
                if refreshed:
                    raise
                click.echo("No fresh rates: refreshing from the configured sources first.", err=True)
                await fx_jobs.refresh_with_runtime()
        terms = quotes.terms_of(row)
        demo = "demo" in row.rate_source.split("+")
        valid = int((row.expires_at - row.created_at).total_seconds())
        click.echo(f"quote #{row.id}  expires {row.expires_at:%Y-%m-%d %H:%M:%S} UTC ({valid} s)")
        for line in describe(terms, demo=demo):
            click.echo(line)
        if row.rate_source:
            click.echo(f"  rate source   {row.rate_source} (rate id {row.rate_id})")
        click.echo("")
        for lang in dict.fromkeys([language, "en", "sw"]):
            text = compact_text(terms, lang, valid_seconds=valid, demo=demo)
            click.echo(f"[{lang}, {len(text)} chars] {text}")

    run_with_runtime(work)


class _AmountCommand(click.Command):
    """Click reads a negative AMOUNT ("-5") as an unknown option: say what is wrong with the amount."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        typed_args = list(args)  # click's parser consumes the list it is given
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as exc:
            # click names only the first "option" of "-1000" ("-1"): say the amount as it was typed
            typed = next((arg for arg in typed_args if re.fullmatch(r"-\d[\d.,]*", arg)), None)
            if typed is not None and typed.startswith(exc.option_name):
                raise click.BadParameter(
                    f"{typed} is not an amount: it must be more than zero",
                    ctx=ctx,
                    param_hint="AMOUNT",
                ) from exc
            raise


def _command(kind: QuoteKind) -> click.Command:
    @click.command(name=kind.value, help=f"Quote a {kind.value}: AMOUNT UNIT [ASSET].", cls=_AmountCommand)
    @click.argument("amount")
    @click.argument("unit")
    @click.argument("asset", required=False)
    @click.option(
        "--rail", type=click.Choice([r.value for r in Rail]), default=Rail.MPESA.value, show_default=True
    )
    @click.option("--lang", "language", type=click.Choice(["en", "sw"]), default="en", show_default=True)
    @click.option("--network-fee", help="send: the chain's fee, in the asset sent")
    def command(
        amount: str, unit: str, asset: str | None, rail: str, language: str, network_fee: str | None
    ) -> None:
        _run(kind, amount, unit, asset, rail, language, network_fee)

    return command


@click.group(name="quote")
def cli() -> None:
    """Price buys, sells and sends with locked rates and every fee shown."""


for _kind in QuoteKind:
    cli.add_command(_command(_kind))

__all__ = ["cli"]
