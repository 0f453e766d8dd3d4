"""Loading the refund policy from TOML, validated at load with clear errors."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from infra.errors import InputError
from verifier.policy import DEFAULT_POLICY, Policy
from verifier.reasons import ReasonCode
from verifier.schemas import CLAIM_TYPES

__all__ = ["PolicyFileError", "default_policy", "load_policy", "parse_policy"]


class PolicyFileError(InputError):
    """The policy file is missing, not TOML, or breaks a rule."""

    code = "policy_invalid"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Decisions(_Strict):
    block: list[ReasonCode] = Field(default_factory=lambda: sorted(DEFAULT_POLICY.block))
    review: list[ReasonCode] = Field(default_factory=lambda: sorted(DEFAULT_POLICY.review))
    allow: list[ReasonCode] = Field(default_factory=list)


class _Thresholds(_Strict):
    review_above: dict[str, Decimal] = Field(default_factory=dict)

    @field_validator("review_above")
    @classmethod
    def _currencies(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for currency, amount in value.items():
            if len(currency) != 3 or not currency.isupper() or not currency.isalpha():
                raise ValueError(f"expected ISO 4217 currency codes, found {currency!r}")
            if amount < 0:
                raise ValueError(f"expected a non-negative threshold for {currency}")
        return value


class _Evidence(_Strict):
    video_required_for: list[str] = Field(default_factory=list)
    min_photos: int = Field(default=0, ge=0, le=50)
    recapture_review: bool = False

    @field_validator("video_required_for")
    @classmethod
    def _claim_types(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - CLAIM_TYPES)
        if unknown:
            raise ValueError(
                f"unknown claim types {unknown}; expected some of {sorted(CLAIM_TYPES)}"
            )
        return value


class _Window(_Strict):
    receipt_days_after_delivery: int = Field(default=30, ge=0, le=3650)


class _Limits(_Strict):
    max_refunds_per_order: int | None = Field(default=None, ge=0)
    max_disputes_per_buyer: int | None = Field(default=None, ge=0)
    max_swaps_per_buyer: int | None = Field(default=None, ge=0)
    buyer_window_days: int = Field(default=30, ge=1, le=3650)


class _Merchants(_Strict):
    wrong_item_rate_review_at: Decimal | None = Field(default=None, gt=0, le=1)
    wrong_item_min_disputes: int = Field(default=5, ge=1, le=100_000)
    window_days: int = Field(default=90, ge=1, le=3650)


class _PolicyFile(_Strict):
    dry_run: bool = False
    decisions: _Decisions = Field(default_factory=_Decisions)
    thresholds: _Thresholds = Field(default_factory=_Thresholds)
    evidence: _Evidence = Field(default_factory=_Evidence)
    window: _Window = Field(default_factory=_Window)
    limits: _Limits = Field(default_factory=_Limits)
    merchants: _Merchants = Field(default_factory=_Merchants)


def parse_policy(text: str, *, source: str = "policy") -> Policy:
    """Parse and validate policy TOML.

    Raises:
        PolicyFileError: with every problem found, each naming its key.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyFileError(f"{source}: not valid TOML ({exc})") from exc
    try:
        parsed = _PolicyFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise PolicyFileError(f"{source}: {problems}") from exc
    try:
        return Policy(
            block=frozenset(parsed.decisions.block),
            review=frozenset(parsed.decisions.review) - frozenset(parsed.decisions.allow)
            if "review" not in parsed.decisions.model_fields_set
            else frozenset(parsed.decisions.review),
            allow=frozenset(parsed.decisions.allow),
            review_above=dict(parsed.thresholds.review_above),
            video_required_for=frozenset(parsed.evidence.video_required_for),
            min_photos=parsed.evidence.min_photos,
            recapture_review=parsed.evidence.recapture_review,
            receipt_window_days=parsed.window.receipt_days_after_delivery,
            max_refunds_per_order=parsed.limits.max_refunds_per_order,
            max_disputes_per_buyer=parsed.limits.max_disputes_per_buyer,
            buyer_window_days=parsed.limits.buyer_window_days,
            max_swaps_per_buyer=parsed.limits.max_swaps_per_buyer,
            max_wrong_item_rate=parsed.merchants.wrong_item_rate_review_at,
            wrong_item_min_disputes=parsed.merchants.wrong_item_min_disputes,
            merchant_window_days=parsed.merchants.window_days,
            dry_run=parsed.dry_run,
        )
    except ValueError as exc:
        raise PolicyFileError(f"{source}: decisions: {exc}") from exc


def load_policy(path: Path) -> Policy:
    """Read a policy file.

    Raises:
        PolicyFileError: unreadable or invalid.
    """
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyFileError(f"cannot read the policy file {path.name}") from exc
    return parse_policy(text, source=path.name)


def default_policy() -> Policy:
    """The shipped policy (verifier/default-policy.toml)."""
    text = resources.files("verifier").joinpath("default-policy.toml").read_text()
    return parse_policy(text, source="default-policy.toml")
