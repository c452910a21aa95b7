"""`kibeti compliance report str|ctr|crypto-flows`, `cases`, `overdue`, `tiers`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time
from pathlib import Path
from typing import TypeVar

import click

from compliance import cases, kyc, reports
from compliance.errors import ComplianceError
from compliance.models import CaseStatus
from compliance.seed import ensure_defaults
from core.config import get_settings
from core.identity import service as identity
from core.money import Asset, Money, format_money
from core.runtime import Runtime
from webapp.cli._common import run_with_runtime

ACTOR = "cli"
T = TypeVar("T")


def _run(work: Callable[[Runtime], Awaitable[T]]) -> T:
    """Run with the Runtime; a compliance refusal (unknown case, wrong state) is a one-line error."""
    try:
        return run_with_runtime(work)
    except ComplianceError as exc:
        raise click.ClickException(f"{exc} ({exc.code})") from exc


@click.group(name="compliance")
def cli() -> None:
    """KYC tiers, alerts and cases, and FRC reports (goAML)."""


@cli.group(name="report")
def report_group() -> None:
    """Regulatory reports."""


def _write(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"Wrote {output}", err=True)


@report_group.command(name="str")
@click.option("--case", "case_id", type=int, required=True, help="An escalated case.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path))
def str_command(case_id: int, output: Path | None) -> None:
    """goAML STR XML for an escalated case; the case is drafted (status str_drafted) until staff
    record the FRC filing."""

    async def work(runtime: Runtime) -> str:
        async with runtime.session_factory() as session, session.begin():
            report = await reports.export_str(
                session=session,
                case_id=case_id,
                actor=ACTOR,
                now=runtime.clock.now(),
                settings=runtime.settings.compliance,
            )
        click.echo(f"STR {report.reference} for case {case_id}", err=True)
        return report.xml

    _write(_run(work), output)


@report_group.command(name="ctr")
@click.option("--day", type=click.DateTime(formats=["%Y-%m-%d"]), required=True, help="Nairobi calendar day.")
@click.option(
    "--customer", "customer_id", type=int, help="Export this customer's CTR (else list candidates)."
)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path))
def ctr_command(day: datetime, customer_id: int | None, output: Path | None) -> None:
    """CTR candidates for a day (KES total >= threshold), or one customer's CTR XML."""
    settings = get_settings().compliance

    async def work(runtime: Runtime) -> str:
        async with runtime.session_factory() as session, session.begin():
            if customer_id is None:
                found = await reports.ctr_candidates(session=session, day=day.date(), settings=settings)
                lines = [
                    f"{c.customer_id}\t{format_money(Money(c.total_kes, Asset.KES))}\t{c.movements} movements"
                    for c in found
                ]
                return "\n".join(lines) if lines else f"No CTR candidates on {day.date()}."
            # an unknown id would read as "under the CTR threshold"
            await identity.get_customer(session=session, customer_id=customer_id)
            report = await reports.export_ctr(
                session=session,
                customer_id=customer_id,
                day=day.date(),
                actor=ACTOR,
                now=runtime.clock.now(),
                settings=settings,
            )
            return report.xml

    _write(_run(work), output)


@report_group.command(name="crypto-flows")
@click.option("--from", "start", type=click.DateTime(formats=["%Y-%m-%d"]), required=True)
@click.option("--to", "end", type=click.DateTime(formats=["%Y-%m-%d"]), required=True, help="Exclusive.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path))
def crypto_flows_command(start: datetime, end: datetime, output: Path | None) -> None:
    """CSV of every crypto movement in [FROM, TO) (UTC days)."""
    if end <= start:
        raise click.BadParameter(
            f"--to ({end:%Y-%m-%d}) must be after --from ({start:%Y-%m-%d}): it is exclusive",
            param_hint="--to",
        )

    def utc(moment: datetime) -> datetime:
        return datetime.combine(moment.date(), time(0), tzinfo=UTC)

    async def work(runtime: Runtime) -> str:
        async with runtime.session_factory() as session:
            return await reports.crypto_flows_csv(session=session, start=utc(start), end=utc(end))

    _write(_run(work), output)


@cli.command(name="cases")
@click.option(
    "--status",
    type=click.Choice([s.value for s in CaseStatus]),
    default=None,
    help="Only cases in this state.",
)
def cases_command(status: str | None) -> None:
    """List cases, newest first."""

    async def work(runtime: Runtime) -> None:
        async with runtime.session_factory() as session:
            found = await cases.list_cases(session=session, status=status)
        for case in found:
            due = f" STR due {case.str_due_at:%Y-%m-%d %H:%M}" if case.str_due_at else ""
            click.echo(
                f"#{case.id} {case.status:13} {case.priority:6} customer {case.customer_id} {case.title}{due}"
            )
        if not found:
            click.echo("No cases.")

    _run(work)


@cli.command(name="overdue")
def overdue_command() -> None:
    """Escalated cases whose STR is past its 2-day deadline."""

    async def work(runtime: Runtime) -> None:
        async with runtime.session_factory() as session:
            found = await cases.overdue_strs(session=session, now=runtime.clock.now())
        for case in found:
            click.echo(f"#{case.id} STR was due {case.str_due_at:%Y-%m-%d %H:%M} UTC: {case.title}")
        click.echo(f"{len(found)} overdue STR(s).")

    _run(work)


@cli.command(name="tiers")
def tiers_command() -> None:
    """Show the KYC tiers and their limits (KES)."""

    async def work(runtime: Runtime) -> None:
        async with runtime.session_factory() as session, session.begin():
            await ensure_defaults(session=session, now=runtime.clock.now())
            tiers = await kyc.list_tiers(session=session)
        for t in tiers:
            limits = ", ".join(f"{name}={getattr(t, name) / 100:,.2f}" for name in kyc.LIMIT_FIELDS)
            click.echo(f"T{t.tier} {t.name}: {limits}")

    _run(work)
