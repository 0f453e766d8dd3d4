"""A small verifier world for unit tests: a test home's keys, a SQLite ledger, a local store.

Evidence is sealed with our own sealer and recorded in the ledger the way capture records it,
so the facts and dispute services are tested without HTTP.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from capture.sealing.seal import Sealer
from evidence.manifest import CaptureAssertion, ChainLink, Stage
from evidence.reader import TrustSettings
from infra.db import create_ledger_engine, create_schema, session_factory
from infra.ledger.models import CaptureSession, Evidence, Order
from infra.ledger.repository import Ledger
from infra.settings import Settings
from infra.storage.local import LocalEvidenceStore
from keys.publish import claim_signing_trust
from keys.store import KeyStore
from orderseal.bootstrap import initialize_home
from orderseal.samples import make_jpeg
from verifier.disputes import DisputeService
from verifier.facts import AttachedFile, FactGatherer

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SHIPPED_AT = NOW - timedelta(days=3)
RECEIVED_AT = NOW - timedelta(days=1)


@dataclass(frozen=True)
class Sealed:
    """A sealed file on disk and its ledger row."""

    path: Path
    row: Evidence

    def attached(self) -> AttachedFile:
        return AttachedFile(self.path, self.path.name, self.row.sealed_sha256)


@dataclass
class World:
    keys: KeyStore
    ledger: Ledger
    store: LocalEvidenceStore
    facts: FactGatherer
    disputes: DisputeService
    work: Path

    def order(self, order_id: str, buyer_id: str) -> None:
        self.ledger.add_order(
            Order(
                order_id=order_id,
                buyer_id=buyer_id,
                items=[],
                declared_value="100.00",
                currency="USD",
                carrier=None,
                tracking_number=None,
                expected_delivery=date(2026, 11, 21),
                created_at=SHIPPED_AT - timedelta(hours=1),
            )
        )

    def _session(self, order_id: str, stage: Stage, buyer_id: str | None) -> str:
        session_id = f"ss_{secrets.token_hex(4)}"
        self.ledger.add_session(
            CaptureSession(
                session_id=session_id,
                order_id=order_id,
                stage=stage.value,
                device_id="station-t" if stage == Stage.SHIPMENT else None,
                buyer_id=buyer_id,
                opened_at=SHIPPED_AT - timedelta(minutes=5),
                expires_at=NOW + timedelta(days=1),
                closed_at=None,
            )
        )
        return session_id

    def seal(
        self,
        order_id: str,
        stage: Stage,
        *,
        buyer_id: str | None = None,
        shipment: Sealed | None = None,
        seed: int = 1,
    ) -> Sealed:
        """Seal a fresh photo for ``order_id`` and record it; a receipt chains to ``shipment``."""
        at = SHIPPED_AT if stage == Stage.SHIPMENT else RECEIVED_AT
        source = make_jpeg(self.work / f"{secrets.token_hex(4)}.jpg", seed=seed)
        original = hashlib.sha256(source.read_bytes()).hexdigest()
        session_id = self._session(order_id, stage, buyer_id)
        sealer = Sealer(signer=self.keys.service_signer(), trust_pem=self.keys.trust_list().pem)
        chain: tuple[ChainLink, ...] = ()
        archives: list[Path] = []
        if shipment is not None:
            archive = self.work / f"{shipment.row.evidence_id}.c2pa"
            sealer.write_ingredient_archive(
                shipment.path,
                archive,
                media_type="image/jpeg",
                title=shipment.row.title,
                label=shipment.row.evidence_id,
            )
            archives.append(archive)
            chain = (
                ChainLink(
                    evidence_id=shipment.row.evidence_id,
                    manifest_id=shipment.row.manifest_id,
                    content_sha256=shipment.row.original_sha256,
                ),
            )
        assertion = CaptureAssertion(
            order_id=order_id,
            stage=stage,
            device_id="station-t" if stage == Stage.SHIPMENT else "buyer-app-t",
            session_id=session_id,
            captured_at=at.isoformat(),
            received_at=at.isoformat(),
            content_sha256=original,
            media_type="image/jpeg",
            chain=chain,
        )
        dest = source.with_name(f"sealed-{source.name}")
        manifest_id = sealer.seal(
            source,
            dest,
            media_type="image/jpeg",
            assertion=assertion,
            title=source.name,
            ingredient_archives=archives,
        )
        sealed_sha = hashlib.sha256(dest.read_bytes()).hexdigest()
        kept = dest.with_name(f"kept-{dest.name}")
        kept.write_bytes(dest.read_bytes())  # the store consumes its input
        row = Evidence(
            evidence_id=f"ev_{secrets.token_hex(4)}",
            order_id=order_id,
            session_id=session_id,
            stage=stage.value,
            device_id=assertion.device_id,
            media_type="image/jpeg",
            title=source.name,
            original_sha256=original,
            sealed_sha256=sealed_sha,
            sealed_size=dest.stat().st_size,
            storage_key=self.store.put_file(kept, sealed_sha),
            manifest_id=manifest_id,
            archive_key=None,
            archive_sha256=None,
            captured_at=at,
            received_at=at,
            sealed_at=at,
            idempotency_key=None,
        )
        self.ledger.add_evidence(row)
        return Sealed(dest, row)


@pytest.fixture(scope="module")
def home_keys(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    home = tmp_path_factory.mktemp("verifier-home")
    initialize_home(Settings(home=home), quiet_dev_warning=True)
    return KeyStore(home / "keys")


@pytest.fixture
def world(home_keys: KeyStore, tmp_path: Path) -> World:
    engine = create_ledger_engine(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    create_schema(engine)
    ledger = Ledger(session_factory(engine))
    store = LocalEvidenceStore(tmp_path / "evidence")
    facts = FactGatherer(
        ledger=ledger,
        trust=TrustSettings(anchors_pem=claim_signing_trust(home_keys).pem),
        revoked_service_certificates=home_keys.revocations.service_serials,
        sealing_certificates=home_keys.service_certificates,
    )
    work = tmp_path / "work"
    work.mkdir()
    return World(
        keys=home_keys,
        ledger=ledger,
        store=store,
        facts=facts,
        disputes=DisputeService(facts=facts, store=store),
        work=work,
    )
