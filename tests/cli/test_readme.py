"""README is what a new user follows first (issue 15): what it names exists in this
repository, and what it says of tiers, statuses and flags is what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from corridor.platform.domain import kyc
from corridor.platform.domain.rails import DepositStatus, WithdrawalStatus
from corridor.platform.domain.refunds import RefundStatus
from corridor.platform.domain.roles import STAFF_PERMS, Perm

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_every_path_it_names_is_in_the_repository() -> None:
    named = set(re.findall(r"`((?:src|tests|docs|scripts)/[^`\s]*)`", README))
    assert named, "README names no files?"
    for path in named:
        assert (ROOT / path.rstrip("/")).exists(), path
    assert not re.search(r"(?<![\w.])(/work/|shared/seeds|\.\./)", README)


def test_the_tier_table_is_the_code() -> None:
    rows = {int(m.group(1)): m.group(0) for m in re.finditer(r"^\| (\d) \w+ \|.*$", README,
                                                               re.MULTILINE)}
    for level, tier in kyc.TIERS.items():
        if level == 0:
            continue
        row = rows[level]
        for code in tier.limits.asset_codes:
            assert code in row or "all five" in row, (level, code)
        own = set(tier.required_fields) - (set(kyc.TIERS[level - 1].required_fields)
                                            if level == 2 else set())
        for field in own:
            assert f"`{field}`" in row or f"`.{field.split('.', 1)[-1]}`" in row, field


def test_status_words_roles_and_flags_are_listed() -> None:
    for status in (*DepositStatus, *WithdrawalStatus, *RefundStatus):
        assert f"`{status.value}`" in README, status
    for role, perms in STAFF_PERMS.items():
        if Perm.REFUND_REVIEW in perms:
            assert f"`{role.value}` decides in `GET /v1/staff/refunds/queue`" in README or (
                f"`{role.value}`" in README.split("| refund |")[1].split("\n")[0]), role
    for flag in ("--platform-port", "--rpc-port", "CORRIDOR_HOME", "Idempotency-Key",
                 "IDEMPOTENCY_KEY_MISSING", "corridor platform outbox"):
        assert flag in README, flag
