"""The HTML report: the buyer's submitted files beside the sealed originals, checks in plain
words (internal names and codes only inside <details>), one time format, adversary text inert.

Adversary: a buyer (through the platform) names an attached file
``<img src=x onerror=alert(1)>.jpg`` or puts markup in the claim, hoping the agent's report
runs it. Autoescaping renders it as text; the test looks for the raw tag.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from evidence.recapture import RECAPTURE_THRESHOLD
from infra.ledger.models import Dispute
from verifier.models import CheckResult, Decision
from verifier.reasons import ReasonCode
from verifier.report import (
    AgentReport,
    ReportMedia,
    SellerAnswer,
    SubmittedFile,
    render_report_html,
    shown_time,
)
from verifier.schemas import (
    AgentDecisionRef,
    CheckOut,
    EvidenceVerdictOut,
    HistoryEntryOut,
    ReasonOut,
    RuleTraceOut,
    VerdictOut,
)

FILED = datetime(2026, 12, 2, 7, 41, 9, 123456, tzinfo=UTC)
EVIL = '<img src=x onerror="alert(1)">.jpg'
C2PA_STATUS = "assertion.dataHash.mismatch"


def _verdict() -> VerdictOut:
    tampered = CheckResult("binding", ReasonCode.CONTENT_TAMPERED, False, f"c2pa: {C2PA_STATUS}")
    evidence = EvidenceVerdictOut(
        filename=EVIL,
        media_type="image/jpeg",
        content_sha256="ab" * 32,
        decision=Decision.BLOCK,
        reasons=(ReasonOut(code=ReasonCode.CONTENT_TAMPERED, message=C2PA_STATUS),),
        checks=(
            CheckOut.from_result(CheckResult("signature", ReasonCode.SIGNATURE_INVALID, True, "")),
            CheckOut.from_result(tampered),
        ),
        manifest_id="urn:c2pa:1",
        stage="receipt",
        evidence_id=None,
    )
    return VerdictOut(
        decision=Decision.BLOCK,
        reasons=(ReasonOut(code=ReasonCode.CONTENT_TAMPERED, message=C2PA_STATUS),),
        evidence=(evidence,),
        decided_at="2026-12-02T07:45:00.654321+00:00",
        policy_trace=(RuleTraceOut(rule="value_threshold", fired=False, detail="below 500.00"),),
        policy_decision=Decision.BLOCK,
        dry_run=False,
    )


def _report(*, agent_denied: bool = False) -> AgentReport:
    dispute = Dispute(
        dispute_id="dp_1",
        order_id="ORD-1",
        buyer_id="buyer-1",
        claim_type="damaged",
        amount="49.00",
        currency="USD",
        created_at=FILED.replace(tzinfo=None),  # SQLite hands naive UTC back
        decision="block",
    )
    packed = ReportMedia(
        evidence_id="ev_1",
        stage="shipment",
        title="pack.jpg",
        media_type="image/jpeg",
        device_id="station-1",
        captured_at="2026-11-30T10:00:00+00:00",
        sealed_at="2026-11-30T10:00:01.5+00:00",
        manifest_id="urn:c2pa:0",
    )
    submitted = SubmittedFile(
        filename=EVIL,
        media_type="image/jpeg",
        content_sha256="ab" * 32,
        size=10,
        attached_at="2026-12-02T07:42:00Z",
        manifest_id="",
        thumbnail_url="data:image/jpeg;base64,AAAA",
    )
    history: list[VerdictOut] = [_verdict()]
    if agent_denied:
        ref = AgentDecisionRef(
            decision_id="ad_1", action="deny", agent="agent-ann", note="private reasoning"
        )
        denied = HistoryEntryOut.model_validate(
            {**_verdict().to_body(), "decided_at": "2026-12-02T09:00:00+00:00"}
        )
        history.append(
            denied.model_copy(update={"change_reason": "agent_decision", "agent_decision": ref})
        )
    answer = SellerAnswer(
        merchant_id="shop-a",
        statement="Packed as ordered. <script>alert(2)</script>",
        evidence_ids=("ev_1",),
        created_at="2026-12-02T08:10:00+00:00",
    )
    return AgentReport.build(dispute, history, [packed], [submitted], [answer])


class _Visible(HTMLParser):
    """The text a reader sees without opening any <details>, and every tag name."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []
        self.attributes: list[str] = []
        self._closed_details = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(name for name, _ in attrs)
        if tag == "details":
            self._closed_details += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "details":
            self._closed_details -= 1

    def handle_data(self, data: str) -> None:
        if not self._closed_details:
            self.text.append(data)


def _parse(html: str) -> _Visible:
    parser = _Visible()
    parser.feed(html)
    return parser


def test_report_shows_the_submitted_file_beside_the_sealed_originals() -> None:
    html = render_report_html(_report())
    submitted = html.split('id="submitted"')[1].split("</section>")[0]
    assert "data:image/jpeg;base64,AAAA" in submitted
    assert "pack.jpg" in html.split('id="shipment"')[1].split("</section>")[0]
    assert "file submitted" in html.split('id="timeline"')[1]


def test_checks_speak_plain_words_and_keep_codes_one_click_away() -> None:
    page = _parse(render_report_html(_report()))
    visible = " ".join(page.text)
    assert "The picture or video was changed after it was signed." in visible
    assert C2PA_STATUS not in visible  # the c2pa status only inside <details>
    assert "content_tampered" not in visible
    html = render_report_html(_report())
    assert C2PA_STATUS in html
    assert "<code>binding</code>" in html


def test_adversary_filename_renders_as_text() -> None:
    html = render_report_html(_report())
    page = _parse(html)
    assert page.tags.count("img") == 1  # the one thumbnail, not the filename
    assert "onerror" not in page.attributes
    assert "&lt;img src=x onerror=" in html


def test_every_time_has_one_form() -> None:
    html = render_report_html(_report())
    visible = " ".join(_parse(html).text)
    assert "2026-12-02 07:41 UTC" in visible  # filed (naive SQLite text read as UTC)
    assert "2026-12-02 07:45 UTC" in visible  # decided, microseconds dropped
    assert "2026-11-30 10:00 UTC" in visible
    assert not re.search(r"\d{2}:\d{2}:\d{2}|\+00:00|\d{2}Z\b", visible)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("2026-12-02T07:41:59.999999+00:00", "2026-12-02 07:41 UTC"),
        ("2026-12-02T07:41:00Z", "2026-12-02 07:41 UTC"),
        ("2026-12-02T08:41:00+01:00", "2026-12-02 07:41 UTC"),
        (None, "—"),
    ],
    ids=["microseconds", "z-suffix", "other-zone", "none"],
)
def test_shown_time(value: str | None, shown: str) -> None:
    assert shown_time(value) == shown


def test_an_agent_decision_is_named_as_such_without_the_note() -> None:
    """The report is read through links by the platform's back office: the action, not the
    agent's name or note (those stay in the agents' workspace)."""
    html = render_report_html(_report(agent_denied=True))
    timeline = html.split('id="timeline"')[1].split("</table>")[0]
    assert "denied by an agent: block" in timeline
    assert "2026-12-02 09:00 UTC" in timeline
    assert "by an agent" in html.split('id="history"')[1]
    assert "private reasoning" not in html
    assert "agent-ann" not in html


def test_the_sellers_answer_is_shown_as_text() -> None:
    html = render_report_html(_report())
    answers = html.split('id="answers"')[1].split("</div>")[0]
    assert "Packed as ordered. &lt;script&gt;alert(2)&lt;/script&gt;" in answers
    assert "<code>ev_1</code>" in answers
    assert "seller answered" in html.split('id="timeline"')[1]
    assert _parse(html).tags.count("script") == 0


@pytest.mark.parametrize(
    ("score", "shown", "advice"),
    [(None, False, False), (2.5, True, False), (RECAPTURE_THRESHOLD, True, True)],
    ids=["video", "plain", "suspected"],
)
def test_the_recapture_score_is_shown_as_advice(
    score: float | None, shown: bool, advice: bool
) -> None:
    report = _report()
    assert report.verdict is not None
    (evidence,) = report.verdict.evidence
    verdict = report.verdict.model_copy(
        update={"evidence": (evidence.model_copy(update={"recapture_score": score}),)}
    )
    html = render_report_html(dataclasses.replace(report, verdict=verdict))
    assert ("recapture score" in html) is shown
    assert ("possible photo of a screen" in html) is advice
