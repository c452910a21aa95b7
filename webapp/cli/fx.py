"""`kibeti fx refresh | rates | alerts | fees | override`: FX rates (demo rates by default) and fees."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal

import click
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import service as staff_service
from core.auth.errors import AccountLocked, LoginFailed
from core.errors import KibetiError
from core.fees import service as fees_service
from core.fx import jobs as fx_jobs
from core.fx import overrides
from core.fx import service as fx_service
from core.fx.errors import RatesUnavailable
from core.fx.policy import FxPolicy
from core.merchants import service as merchants
from core.money import Asset, Money, format_money
from core.runtime import Runtime
from webapp.cli._common import run_with_runtime
from webapp.deps_auth import get_keyring


@click.group(name="fx")
def cli() -> None:
    """FX rates: refresh, show, alerts."""


@cli.command(name="refresh")
def refresh_command() -> None:
    """Fetch rates from every configured source now and store them."""

    async def work(runtime: Runtime) -> bool:
        click.echo("sources: " + ", ".join(source.name for source in runtime.rate_sources))
        result = await fx_jobs.refresh_with_runtime()
        for name, error in sorted(result.errors.items()):
            click.echo(f"  FAILED {name}: {error}", err=True)
        for rate in result.rates:
            label = "  [DEMO]" if rate.is_demo else ""
            spread = "" if rate.bid == rate.ask else f" (bid {rate.bid:f} / ask {rate.ask:f})"
            click.echo(f"  {rate.pair:<9} {rate.mid:f}{spread}  source={rate.source}{label}")
        if result.alerts:
            click.echo(f"  {len(result.alerts)} disagreement alert(s) raised for staff", err=True)
        click.echo(f"{result.fetched} rates fetched, {len(result.rates)} stored as current.")
        return bool(result.rates)

    if not run_with_runtime(work):
        sys.exit(1)


@cli.command(name="rates")
def rates_command() -> None:
    """Show the current rate of every pair, or why there is none."""

    async def work(runtime: Runtime) -> None:
        policy = FxPolicy.from_settings(runtime.settings)
        async with runtime.session_factory() as session:
            for base, quote in fx_service.QUOTED_PAIRS:
                try:
                    rate = await fx_service.latest_rate(
                        session=session, base=base, quote=quote, clock=runtime.clock, max_age=policy.max_age
                    )
                except RatesUnavailable as exc:
                    click.echo(f"  {base}/{quote:<5} unavailable: {exc}")
                    continue
                label = "  [DEMO]" if rate.is_demo else ""
                click.echo(f"  {rate.pair:<9} bid {rate.bid:f} ask {rate.ask:f}  {rate.as_of:%H:%M:%S}"
                           f"  source={rate.source}{label}")  # fmt: skip

    run_with_runtime(work)


@cli.command(name="alerts")
def alerts_command() -> None:
    """Open alerts: sources that disagreed beyond tolerance."""

    async def work(runtime: Runtime) -> None:
        async with runtime.session_factory() as session:
            for alert in await fx_service.open_alerts(session=session):
                click.echo(f"  #{alert.id} {alert.created_at:%Y-%m-%d %H:%M:%S} {alert.pair} {alert.details}")

    run_with_runtime(work)


def _money(amount: Decimal, asset: Asset) -> str:
    return format_money(Money(amount, asset))


@cli.command(name="fees")
@click.option("--asset", default="USDT-TRC20", show_default=True, help="the crypto asset quoted")
@click.option(
    "--tier", "kyc_tier", type=click.IntRange(0, 2), default=None, help="KYC tier 0-2 (for tier overrides)"
)
@click.option(
    "--merchant", "merchant_id", type=int, default=None, help="merchant id (for merchant overrides)"
)
def fees_command(asset: str, kyc_tier: int | None, merchant_id: int | None) -> None:
    """Show the fee schedule in force now for an asset, tier and merchant."""

    async def work(runtime: Runtime) -> None:
        async with runtime.session_factory() as session:
            if merchant_id is not None:  # an unknown id would show the default schedule as if it were its own
                await merchants.get_merchant(session=session, merchant_id=merchant_id)
            schedule = await fees_service.resolve_schedule(
                session=session, asset=Asset.parse(asset), at=runtime.clock.now(), kyc_tier=kyc_tier,
                merchant_id=merchant_id,
            )  # fmt: skip
        click.echo(f"  FX margin       buy {schedule.fx_margin_buy}%  sell {schedule.fx_margin_sell}%")
        # a rule's fixed amount and caps are in the currency of what it applies to
        charged_in = {"withdrawal": Asset.parse(asset), "mpesa": Asset.KES, "merchant": Asset.KES}
        for name, on in charged_in.items():
            rule = getattr(schedule, name)
            caps = f"  min {_money(rule.minimum, on)}" if rule.minimum is not None else ""
            caps += f"  max {_money(rule.maximum, on)}" if rule.maximum is not None else ""
            click.echo(f"  {name:<15} {rule.percent}% + {_money(rule.fixed, on)}{caps}")
        click.echo(
            f"  network fee     {schedule.network_percent}% of the chain's estimated fee, charged on each "
            "withdrawal quote (see `kibeti chain fees`)"
        )
        click.echo(f"  rule ids        {', '.join(map(str, schedule.rule_ids)) or '(blueprint defaults)'}")

    run_with_runtime(work)


@cli.group(name="override")
def override_group() -> None:
    """Manual rates: a finance maker proposes, a different finance checker approves (audited).

    Each command signs in as the staff member (email, password, TOTP code): no staff id is taken
    on trust. The staff API offers the same: POST /api/staff/fx/overrides and .../{id}/approve."""


STAFF_EMAIL = click.option("--email", required=True, help="your staff sign-in email")
STAFF_PASSWORD = click.option(
    "--password", prompt=True, hide_input=True, envvar="KIBETI_STAFF_PASSWORD", help="(prompted)"
)
STAFF_TOTP = click.option(
    "--totp", prompt="Authenticator code", envvar="KIBETI_STAFF_TOTP", help="(prompted)"
)


async def _signed_in(session: AsyncSession, runtime: Runtime, email: str, password: str, totp: str) -> int:
    """The id of the staff member these credentials prove; a failed try is committed (lockout) and
    refused."""
    try:
        await staff_service.login(
            session=session, email=email, password=password, totp_code=totp, clock=runtime.clock,
            secret_key=runtime.settings.secret_key.get_secret_value(), keyring=get_keyring(runtime),
        )  # fmt: skip
    except (LoginFailed, AccountLocked) as exc:
        await session.commit()
        raise click.ClickException(str(exc)) from exc
    staff = await staff_service.get_staff_by_email(session=session, email=email)
    assert staff is not None
    return staff.id


def _run_override(work: Callable[[Runtime], Awaitable[str]]) -> None:
    try:
        click.echo(run_with_runtime(work))
    except KibetiError as exc:
        raise click.ClickException(f"{exc} ({exc.code})") from exc


def _check_pair(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Checked before the password and code are asked (a failed sign-in counts towards the lockout)."""
    base, _, quote = value.upper().partition("/")
    if (base, quote) not in fx_service.QUOTED_PAIRS:
        names = ", ".join(f"{b}/{q}" for b, q in fx_service.QUOTED_PAIRS)
        raise click.BadParameter(f"{value!r} is not a quoted pair: give one of {names}")
    return value


def _check_rate(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        rate = Decimal(value)
    except ArithmeticError:
        rate = Decimal(0)
    if not rate.is_finite() or rate <= 0:
        raise click.BadParameter(f"{value!r} is not a rate: give a positive number such as 129.50")
    return value


@override_group.command(name="propose")
@click.argument("pair", callback=_check_pair)
@click.argument("rate", callback=_check_rate)
@click.option("--reason", required=True)
@click.option("--minutes", type=int, default=60, show_default=True, help="how long it applies once approved")
@STAFF_EMAIL
@STAFF_PASSWORD
@STAFF_TOTP
def propose_command(
    pair: str, rate: str, reason: str, minutes: int, email: str, password: str, totp: str
) -> None:
    """Propose PAIR (e.g. USDT/KES) at RATE."""
    base, _, quote = pair.upper().partition("/")

    async def work(runtime: Runtime) -> str:
        async with runtime.session_factory() as session:
            staff_id = await _signed_in(session, runtime, email, password, totp)
            row = await overrides.propose_override(
                session=session, base=base, quote=quote, rate=rate, reason=reason, maker_id=staff_id,
                clock=runtime.clock, valid_for=timedelta(minutes=minutes),
            )  # fmt: skip
            await session.commit()
        return f"manual rate #{row.id} proposed: {row.base}/{row.quote} {row.rate} (needs a second approver)"

    _run_override(work)


@override_group.command(name="approve")
@click.argument("override_id", type=int)
@STAFF_EMAIL
@STAFF_PASSWORD
@STAFF_TOTP
def approve_command(override_id: int, email: str, password: str, totp: str) -> None:
    """Approve a proposed manual rate (by a different person)."""

    async def work(runtime: Runtime) -> str:
        async with runtime.session_factory() as session:
            staff_id = await _signed_in(session, runtime, email, password, totp)
            row = await overrides.approve_override(
                session=session, override_id=override_id, checker_id=staff_id, clock=runtime.clock
            )
            await session.commit()
        assert row.valid_until is not None
        return f"manual rate #{row.id} in force until {row.valid_until:%Y-%m-%d %H:%M:%S} UTC"

    _run_override(work)
