"""Every staff read of a customer's KYC profile or a decrypted document leaves an audit row
(who read whose, and which document), committed before the data is served."""

from __future__ import annotations

from sqlalchemy import select

from compliance import kyc
from core.audit import service as audit
from core.audit.models import AuditEntry
from tests.integration.compliance.test_api_cli import staff_token
from tests.integration.identity.api_helpers import api_client, make_runtime
from tests.integration.identity.helpers import KEYRING


async def test_kyc_profile_and_document_reads_are_audited(factory, clock) -> None:
    reader = {"Authorization": f"Bearer {await staff_token(factory, clock, 'compliance')}"}
    async with factory() as session:
        await kyc.ensure_profile(session=session, customer_id=92, now=clock.now())
        doc = await kyc.add_document(session=session, customer_id=92, kind="selfie",
                                     content=b"\xff\xd8\xff\xe0" + b"face" * 10, keyring=KEYRING,
                                     now=clock.now())  # fmt: skip
        await session.commit()
    async with api_client(make_runtime(factory, clock)) as (_app, client):
        base = "/api/staff/compliance"
        assert (await client.get(f"{base}/customers/92/kyc", headers=reader)).status_code == 200
        assert (await client.get(f"{base}/documents/{doc.id}", headers=reader)).status_code == 200
        assert (await client.get(f"{base}/customers/93/kyc", headers=reader)).status_code == 404
    async with factory() as session:
        reads = (
            await session.execute(select(AuditEntry).where(AuditEntry.action.startswith("kyc.")).order_by(AuditEntry.seq))
        ).scalars().all()  # fmt: skip
        staff_actor = reads[0].actor
        assert staff_actor.startswith("staff:") and staff_actor.count(":") == 1
        assert [(r.action, r.subject, r.actor) for r in reads] == [
            ("kyc.profile_read", "customer:92", staff_actor),
            ("kyc.document_read", "customer:92", staff_actor),
        ]
        assert reads[1].details == {"document_id": doc.id, "kind": "selfie"}
        assert (await audit.verify(session=session)).ok
