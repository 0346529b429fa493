"""`corridor compliance reviews due|run` and `corridor compliance risk`: a due re-review
listed, opened once (the second run opens nothing), and a customer's rating printed with
its factors; a customer never rated is one clear refusal."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from typer.testing import CliRunner

from corridor.cli.main import app
from corridor.cli.platform import _settings
from corridor.platform import bootstrap
from corridor.platform.domain.kyc import KycCustomer
from corridor.platform.services import risk
from tests.platform.conftest import make_user
from tests.platform.payment_fakes import kyc

runner = CliRunner()


def _run(data_dir: Path, *args: str) -> tuple[int, str]:
    r = runner.invoke(app, ["compliance", *args, "--data-dir", str(data_dir)])
    return r.exit_code, r.output


def test_due_run_and_risk(tmp_path: Path) -> None:
    data = tmp_path / "platform"
    platform = bootstrap.build(_settings(data, None, fast_password_hashing=True))
    try:
        deps = platform.deps
        carol = make_user(platform, email="carol@example.com", name="Carol Customer")
        kyc(platform, carol.user.id, 1)
        with deps.uow() as uow:
            rec = uow.repo(KycCustomer).one(subject_type="user", subject_id=carol.user.id)
            assert rec is not None
            # accepted long ago: its review is due
            uow.repo(KycCustomer).update(dataclasses.replace(rec, review_due_ms=1_000))
            risk.recompute(deps, uow, "user", carol.user.id, "test")
            uow.commit()
    finally:
        platform.close()

    code, out = _run(data, "reviews", "due")
    assert code == 0 and rec.id in out and "not opened" in out, out
    code, out = _run(data, "reviews", "run")
    assert code == 0 and f"opened {rec.id}" in out and "1 review(s) opened" in out, out
    code, out = _run(data, "reviews", "run")
    assert code == 0 and "0 review(s) opened" in out, out
    code, out = _run(data, "reviews", "due", "--json")
    assert code == 0, out
    [due] = json.loads(out)
    assert (due["id"], due["status"]) == (rec.id, "REVIEW_DUE") and due["review_opened_ms"]

    code, out = _run(data, "risk", carol.user.id)
    assert code == 0, out
    rating = json.loads(out)
    assert (rating["level"], rating["points"], rating["factors"]) == ("low", 0, [])
    assert rating["trigger"] == "test"
    code, out = _run(data, "risk", "no-such-customer")
    assert code == 1 and "not rated" in out, out
