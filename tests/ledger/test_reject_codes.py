"""Every reject code is reached by a test: for each code, the test named here runs inside a
capture of the codes it produces (tests/reject_codes.py). A code added to the enum without a
test that reaches it fails here, whatever else the run selects and in whatever order."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from corridor.ledger.errors import RejectCode
from tests.node import test_mempool
from tests.reject_codes import capture

from . import test_blocks, test_evidence, test_rules
from .builders import make_genesis

R = RejectCode


def _with_genesis(test: Callable[..., None]) -> Callable[[], None]:
    """A test of test_rules.py that takes the `g` fixture (a fresh genesis)."""
    return lambda: test(make_genesis())


_sequences = _with_genesis(test_rules.test_sequence_replay_gap_and_window)
_signatures = _with_genesis(test_rules.test_bad_signature_wrong_key_and_extra_signature)
_escrow_hashlock = _with_genesis(test_rules.test_escrow_hashlock_finish)
_escrow_times = _with_genesis(test_rules.test_escrow_time_locks)

# The test that reaches each code.
REACHED_BY: dict[RejectCode, Callable[[], None]] = {
    R.MALFORMED: test_rules.test_decode_level_codes_are_reached,
    R.NON_CANONICAL: test_rules.test_decode_level_codes_are_reached,
    R.LIMIT_EXCEEDED: _with_genesis(test_rules.test_supply_cannot_exceed_amount_max),
    R.WRONG_CHAIN: _sequences,
    R.BAD_ADDRESS: test_rules.test_decode_level_codes_are_reached,
    R.BAD_SIGNATURE: _signatures,
    R.INSUFFICIENT_WEIGHT: _signatures,
    R.EXTRA_SIGNATURE: _signatures,
    R.BAD_SEQUENCE: _sequences,
    R.FUTURE_SEQUENCE: _sequences,
    R.EXPIRED: _sequences,
    R.NOT_YET_VALID: _sequences,
    R.UNKNOWN_ACCOUNT: _sequences,
    R.ACCOUNT_EXISTS: _with_genesis(test_rules.test_open_account_then_exists),
    R.UNKNOWN_ASSET: _with_genesis(
        test_rules.test_self_payment_unknown_asset_and_unknown_destination),
    R.ASSET_EXISTS: _with_genesis(test_rules.test_issue_asset_and_duplicate),
    R.NOT_AUTHORISED: test_rules.test_unauthorised_destination_rejected_for_auth_required_asset,
    R.FROZEN: _with_genesis(test_rules.test_freeze_blocks_both_directions_and_unfreeze_restores),
    R.FLAG_NOT_SET: test_rules.test_issuer_controls_need_flags_and_existing_targets,
    R.INSUFFICIENT_BALANCE: _with_genesis(test_rules.test_overdraft_and_empty_holding_are_rejected),
    R.SELF_PAYMENT: _with_genesis(
        test_rules.test_self_payment_unknown_asset_and_unknown_destination),
    R.TOO_MANY_HOLDINGS: test_rules.test_holdings_are_bounded,
    R.BAD_SIGNERS: _with_genesis(test_rules.test_bad_signer_sets),
    R.ISSUER_HOLDING: test_rules.test_issuer_controls_need_flags_and_existing_targets,
    R.UNKNOWN_ESCROW: _escrow_hashlock,
    R.WRONG_PREIMAGE: _escrow_hashlock,
    R.ESCROW_NOT_FINISHABLE: _escrow_times,
    R.ESCROW_NOT_CANCELLABLE: _escrow_times,
    R.ESCROW_EXPIRED: _escrow_times,
    R.BAD_ESCROW: _with_genesis(test_rules.test_escrow_needs_a_sane_condition),
    R.BAD_BLOCK: test_blocks.test_tampered_blocks_are_rejected,
    R.EVIDENCE_NOT_CONFLICTING: test_evidence.test_votes_of_different_slots_do_not_conflict,
    R.EVIDENCE_NOT_VALIDATOR: test_evidence.test_evidence_against_a_non_validator_is_refused,
    R.EVIDENCE_EXPIRED: lambda: test_evidence.test_evidence_outside_the_age_window_is_refused(
        evidence_height=5, block_height=5),
    R.EVIDENCE_RECORDED: test_evidence.test_an_offence_is_recorded_once,
    R.MEMPOOL_FULL: test_mempool.test_count_bound_is_transient,
    R.DUPLICATE: test_mempool.test_duplicates_by_id_and_by_source_and_sequence,
}


@pytest.mark.parametrize("code", list(RejectCode), ids=lambda c: c.name)
def test_every_reject_code_is_reached(code: RejectCode) -> None:
    reaching = REACHED_BY.get(code)
    assert reaching is not None, f"no test is named as reaching {code.name}: add one here"
    with capture() as seen:
        reaching()
    assert code in seen, f"{code.name}: the test named for it no longer reaches it ({seen})"


def test_the_capture_sees_only_its_own_block() -> None:
    with capture() as outer:
        test_rules.test_decode_level_codes_are_reached()
        with capture() as inner:
            pass
    assert inner == set()
    assert R.MALFORMED in outer
