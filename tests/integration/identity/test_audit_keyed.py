"""The keyed audit chain: forged rows, tail deletion, TRUNCATE and full rewrites are detected;
the application's database role cannot alter the table; legacy unkeyed rows are re-keyed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.audit import checkpoints, hardening
from core.audit import service as audit
from core.audit.keys import AuditKeys, current_keys
from core.audit.models import AuditEntry
from core.config import get_settings
from core.db.session import make_engine, make_session_factory
from core.security.envelope import Keyring
from webapp.cli.audit import cli as audit_cli

Factory = async_sessionmaker[AsyncSession]
NOW = datetime(2026, 12, 5, 7, 0, tzinfo=UTC)


async def seed(factory: Factory, n: int, start: int = 0) -> None:
    async with factory() as session:
        for i in range(start, start + n):
            await audit.record(
                session=session, actor="staff:1", action="config.changed", subject=f"limit:{i}"
            )
        await session.commit()


async def superuser(factory: Factory, *sql: str) -> None:
    """What someone with the owner's or a superuser's access does behind the triggers' back."""
    async with factory() as session:
        await session.execute(text("SET LOCAL session_replication_role = replica"))
        for statement in sql:
            await session.execute(text(statement))
        await session.commit()


async def publish(factory: Factory, path: Path) -> checkpoints.Checkpoint:
    async with factory() as session:
        made = await checkpoints.create(session=session, now=NOW)
    checkpoints.publish(made, path)
    return made


async def against(factory: Factory, path: Path) -> list[str]:
    found, unreadable = checkpoints.read(path.read_text().splitlines())
    async with factory() as session:
        return unreadable + await checkpoints.verify(session=session, checkpoints=found)


async def chain_ok(factory: Factory) -> audit.Verification:
    async with factory() as session:
        return await audit.verify(session=session)


async def test_rows_are_keyed_and_a_forged_append_is_detected(pg_session_factory: Factory) -> None:
    await seed(pg_session_factory, 3)
    async with pg_session_factory() as session:
        rows = (await session.execute(select(AuditEntry).order_by(AuditEntry.seq))).scalars().all()
        assert {row.key_id for row in rows} == {current_keys().current}
        last = rows[-1]
        # Forgers without the key: a plain SHA-256 row, and an HMAC under a key of their own.
        stranger = AuditKeys(Keyring({last.key_id: "not the real passphrase"}, last.key_id, iterations=1000))
        for seq, key_id, keys in ((4, "", None), (5, last.key_id, stranger)):
            forged = dict(seq=seq, occurred_at=NOW, actor="staff:1", action="fx.override.approved",
                          subject="fx_override:1", details={}, prev=last.entry_hash)  # fmt: skip
            digest = audit.compute_hash(**forged, key_id=key_id, keys=keys)  # type: ignore[arg-type]
            session.add(AuditEntry(seq=seq, occurred_at=NOW, actor="staff:1", action="fx.override.approved",
                                   subject="fx_override:1", details={}, prev_hash=last.entry_hash,
                                   entry_hash=digest, key_id=key_id))  # fmt: skip
            await session.commit()
            result = await audit.verify(session=session)
            assert not result.ok and any(p.startswith(f"seq {seq}: ") for p in result.problems)
            await superuser(pg_session_factory, f"DELETE FROM audit_log WHERE seq = {seq}")


async def test_truncate_is_refused_and_noticed(pg_session_factory: Factory, tmp_path: Path) -> None:
    await seed(pg_session_factory, 4)
    path = tmp_path / "checkpoints.jsonl"
    await publish(pg_session_factory, path)
    async with pg_session_factory() as session:
        with pytest.raises(DBAPIError, match="append-only"):
            await session.execute(text("TRUNCATE audit_log"))
    await superuser(pg_session_factory, "TRUNCATE audit_log")
    assert (await chain_ok(pg_session_factory)).ok  # an empty chain is consistent in itself...
    problems = await against(pg_session_factory, path)
    assert any("ends at seq 0" in p for p in problems)  # ...the published checkpoint is not


async def test_tail_deletion_and_full_rewrite_detected_by_checkpoints(
    pg_session_factory: Factory, tmp_path: Path
) -> None:
    path = tmp_path / "checkpoints.jsonl"
    await seed(pg_session_factory, 3)
    await publish(pg_session_factory, path)
    await seed(pg_session_factory, 3, start=3)
    await publish(pg_session_factory, path)
    assert await against(pg_session_factory, path) == []

    await superuser(pg_session_factory, "DELETE FROM audit_log WHERE seq > 4")
    assert (await chain_ok(pg_session_factory)).ok
    assert any("ends at seq 4" in p for p in await against(pg_session_factory, path))

    # A key holder rewrites history and recomputes every hash: the chain verifies, the checkpoint not.
    await superuser(pg_session_factory, "DELETE FROM audit_log")
    await seed(pg_session_factory, 6, start=100)
    assert (await chain_ok(pg_session_factory)).ok
    problems = await against(pg_session_factory, path)
    assert len(problems) == 2 and all("chain rewritten" in p for p in problems)


async def test_edited_checkpoint_fails_its_signature(pg_session_factory: Factory, tmp_path: Path) -> None:
    await seed(pg_session_factory, 2)
    path = tmp_path / "checkpoints.jsonl"
    made = await publish(pg_session_factory, path)
    edited = made.to_line().replace(f'"seq":{made.seq}', '"seq":1')
    path.write_text(edited + "\nnot json\n")
    problems = await against(pg_session_factory, path)
    assert any("not a checkpoint line" in p for p in problems)
    assert any("signature invalid" in p for p in problems)


async def test_app_role_cannot_alter_the_audit_log(pg_session_factory: Factory, clean_pg_url: str) -> None:
    role = f"kibeti_app_{uuid.uuid4().hex[:8]}"
    engine = pg_session_factory.kw["bind"]
    async with engine.begin() as connection:
        await connection.execute(text(f"CREATE ROLE {role} LOGIN"))
        # over-privileged on purpose, as an application role often is before hardening
        await connection.execute(text(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}"))
        await connection.execute(text(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}"))
    async with engine.begin() as connection:
        with pytest.raises(hardening.HardeningRefused, match="superuser"):
            await hardening.harden(connection, app_role="postgres")
    async with engine.begin() as connection:
        applied = await hardening.harden(connection, app_role=role)
    assert applied[-1] == f"GRANT SELECT, INSERT ON audit_log TO {role}"
    app_url = clean_pg_url.replace("postgres@", f"{role}@", 1)
    app_engine = make_engine(app_url, null_pool=True)
    try:
        app = make_session_factory(app_engine)
        await seed(app, 2)  # appending still works
        refused = (
            "UPDATE audit_log SET actor = 'x'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
            "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
            "DROP TRIGGER audit_log_no_truncate ON audit_log",
            "SET session_replication_role = replica",
        )
        for statement in refused:
            async with app() as session:
                with pytest.raises(DBAPIError, match=r"permission denied|must be owner"):
                    await session.execute(text(statement))
        assert (await chain_ok(app)).ok
    finally:
        await app_engine.dispose()
        async with engine.begin() as connection:
            await connection.execute(text(f"DROP OWNED BY {role}"))
            await connection.execute(text(f"DROP ROLE {role}"))


async def _legacy_rows(factory: Factory, n: int) -> None:
    async with factory() as session:
        prev = "0" * 64
        for seq in range(1, n + 1):
            row = dict(seq=seq, occurred_at=NOW, actor="system", action="legacy.row", subject=f"s{seq}",
                       details={"n": seq})  # fmt: skip
            digest = audit.compute_hash(**row, prev=prev)  # type: ignore[arg-type]
            session.add(AuditEntry(**row, prev_hash=prev, entry_hash=digest, key_id=""))
            prev = digest
        await session.commit()


async def test_rekey_seals_legacy_rows_and_refuses_a_broken_chain(session_factory: Factory) -> None:
    await _legacy_rows(session_factory, 3)
    before = await chain_ok(session_factory)
    assert not before.ok and before.unkeyed == 3 and "kibeti audit rekey" in before.problems[0]
    async with session_factory() as session:
        done = await audit.rekey(session=session)
        await session.commit()
    assert done.rows == 3 and done.new_head[0] == 3
    await seed(session_factory, 1)
    after = await chain_ok(session_factory)
    assert after.ok and after.unkeyed == 0 and after.checked == 4

    async with session_factory() as session:
        if session.bind.dialect.name == "postgresql":
            await session.execute(text("SET LOCAL session_replication_role = replica"))
        await session.execute(text("DELETE FROM audit_log"))
        await session.commit()
    await _legacy_rows(session_factory, 3)
    async with session_factory() as session:
        if session.bind.dialect.name == "postgresql":
            await session.execute(text("SET LOCAL session_replication_role = replica"))
        await session.execute(text("UPDATE audit_log SET subject = 'edited' WHERE seq = 2"))
        await session.commit()
    async with session_factory() as session:
        with pytest.raises(audit.AuditChainBroken, match="seq 2"):
            await audit.rekey(session=session)


# The CLI builds the full Runtime, whose wallet adapter imports web3 (a websockets.legacy deprecation).
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_cli_verify_checkpoints_detects_tail_deletion(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "shipped.jsonl"
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("REDIS_URL", "")
    monkeypatch.setenv("AUDIT_CHECKPOINT_PATH", str(path))
    get_settings.cache_clear()
    engine = make_engine(sqlite_url)
    factory = make_session_factory(engine)

    def run(coroutine: object) -> None:
        import asyncio

        asyncio.run(coroutine)  # type: ignore[arg-type]

    run(seed(factory, 3))
    runner = CliRunner()
    published = runner.invoke(audit_cli, ["checkpoint"])
    assert published.exit_code == 0, published.output
    assert checkpoints.parse(path.read_text().splitlines()[0]).seq == 3
    clean = runner.invoke(audit_cli, ["verify", "--checkpoints", str(path)])
    assert clean.exit_code == 0 and "1 checkpoint(s) compared" in clean.output, clean.output

    async def drop_newest() -> None:
        async with factory() as session:
            await session.execute(text("DELETE FROM audit_log WHERE seq = 3"))
            await session.commit()
        await engine.dispose()

    run(drop_newest())
    plain = runner.invoke(audit_cli, ["verify"])
    assert plain.exit_code == 0  # the chain alone cannot tell its newest row went
    caught = runner.invoke(audit_cli, ["verify", "--checkpoints", str(path)])
    assert caught.exit_code == 1 and "ends at seq 2" in caught.output
    missing = runner.invoke(audit_cli, ["verify", "--checkpoints", str(tmp_path / "nope")])
    assert missing.exit_code == 1 and "cannot read" in missing.output


async def test_scheduler_publishes_a_signed_checkpoint_hourly(
    session_factory: Factory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from core import runtime as runtime_module
    from core.audit import jobs
    from core.clock import FixedClock
    from core.config import Settings
    from core.runtime import Runtime
    from webapp import scheduler
    from webapp.queues import InProcessJobQueue

    assert ("core.audit.jobs.publish_checkpoint", 3600) in scheduler.available_jobs()
    path = tmp_path / "ship-me.jsonl"
    settings = Settings(kibeti_env="test", audit_checkpoint_path=path)
    runtime = Runtime(settings=settings, session_factory=session_factory, clock=FixedClock(NOW),
                      queue=InProcessJobQueue())  # fmt: skip
    previous = runtime_module._current
    runtime_module.install(runtime)
    try:
        await seed(session_factory, 2)
        caplog.set_level("INFO", logger="kibeti.audit.checkpoint")
        assert await jobs.publish_checkpoint() == 2
        await seed(session_factory, 1, start=2)
        assert await jobs.publish_checkpoint() == 3
    finally:
        runtime_module._current = previous
    lines = path.read_text().splitlines()
    assert [checkpoints.parse(line).seq for line in lines] == [2, 3]
    assert any(lines[0] in record.getMessage() for record in caplog.records)  # the log carries it too
    assert await against(session_factory, path) == []
