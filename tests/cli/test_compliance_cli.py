"""`corridor compliance …`: list import (versions, no-op re-import, clear error naming the
line), show, match with explanations, and eval-names on labelled pairs."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from corridor.cli.main import app

runner = CliRunner()

SDN = (b'48603,"KHOROSHEV, Dmitry Yuryevich","individual","CYBER2",-0- ,-0- ,-0- ,-0- ,-0- ,'
       b'-0- ,-0- ,"DOB 17 Apr 1993; nationality Russia."\r\n'
       b'11195,"IRAN AIRCRAFT MANUFACTURING INDUSTRIAL COMPANY",-0- ,"NPWMD",-0- ,-0- ,-0- ,'
       b'-0- ,-0- ,-0- ,-0- ,"a.k.a. \'HESA\'."\r\n')
ALT = b'48603,75565,"aka","KHOROSHEV, Dmitrii Yuryevich",-0- \r\n'


def _run(data_dir: Path, *args: str) -> tuple[int, str]:
    r = runner.invoke(app, ["compliance", *args, "--data-dir", str(data_dir)])
    return r.exit_code, r.output


def test_import_show_match(tmp_path: Path) -> None:
    lists = tmp_path / "ofac"
    lists.mkdir()
    (lists / "sdn.csv").write_bytes(SDN)
    (lists / "alt.csv").write_bytes(ALT)
    data = tmp_path / "platform"
    code, out = _run(data, "lists", "import", str(lists / "sdn.csv"), "--format", "ofac")
    assert code == 0, out
    assert "ofac-sdn: version 1, 2 entries (added 2, removed 0, changed 0)" in out
    assert "re-screened 0 customers against the added and changed entries: 0 alerts" in out
    code, out = _run(data, "lists", "import", str(lists), "--format", "ofac")
    assert code == 0 and "unchanged, still version 1" in out, out

    code, out = _run(data, "lists", "show")
    assert code == 0 and "ofac-sdn v1 [ofac] 2 entries (+2 -0 ~0) sdn.csv" in out, out

    code, out = _run(data, "match", "Дмитрий Хорошев", "--dob", "1993-04-17", "--type",
                     "person")
    assert code == 0, out
    assert "ofac-sdn:48603 [person] KHOROSHEV, Dmitry Yuryevich (CYBER2)" in out
    assert "date of birth 1993-04-17 listed" in out and "horoshev=khoroshev" in out
    code, out = _run(data, "match", "HESA", "--json")
    assert code == 0, out
    hits = json.loads(out)
    assert hits[0]["source_id"] == "11195" and hits[0]["is_alias"]
    code, out = _run(data, "match", "John Smith")
    assert code == 0 and "no hits" in out


def test_refusals_are_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "entities.ftm.json"
    bad.write_text('{"id": "a", "schema": "Person", "properties": {"name": ["A B"]}}\nnope\n')
    code, out = _run(tmp_path / "p", "lists", "import", str(bad), "--format", "ftm")
    assert code == 1 and "error:" in out and "line 2: not JSON" in out, out
    code, out = _run(tmp_path / "p", "lists", "import", str(bad), "--format", "xml")
    assert code == 1 and "--format must be one of ofac, csl, ftm" in out
    code, out = _run(tmp_path / "p", "lists", "import", str(tmp_path / "none.csv"),
                     "--format", "csl")
    assert code == 1 and "no such file" in out


def test_eval_names_reports_precision_and_recall(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("name1,name2,is_match,schema\n"
                     "Vladimir Putin,Владимир Путин,true,Person\n"
                     "Xi Jinping,习近平,true,Person\n"
                     "Ivan Petrov,Владимир Путин,false,Person\n"
                     "Acme Trading Ltd,Inter Tobacco LLC,false,Company\n")
    out_json = tmp_path / "eval.json"
    r = runner.invoke(app, ["compliance", "eval-names", str(pairs), "--json", str(out_json)])
    assert r.exit_code == 0, r.output
    doc = json.loads(out_json.read_text())
    assert doc["pairs"] == 4 and doc["precision"] == 1.0 and doc["recall"] == 1.0
    assert set(doc) >= {"pairs", "precision", "recall", "f1", "threshold"}
    pairs.write_text("a,b\nx,y\n")
    r = runner.invoke(app, ["compliance", "eval-names", str(pairs)])
    assert r.exit_code == 1 and "name1, name2, is_match" in r.output


def test_alerts_and_cases_list_and_show(tmp_path: Path) -> None:
    from corridor.cli.platform import _settings
    from corridor.platform import bootstrap
    from corridor.platform.domain.screening.entries import EntityKind
    from corridor.platform.services import monitoring
    from tests.platform.conftest import make_user

    lists = tmp_path / "ofac"
    lists.mkdir()
    (lists / "sdn.csv").write_bytes(SDN)
    data = tmp_path / "platform"
    assert _run(data, "alerts", "list")[0] == 1  # no database yet: a clear refusal
    assert _run(data, "lists", "import", str(lists / "sdn.csv"), "--format", "ofac")[0] == 0
    platform = bootstrap.build(_settings(data, None, fast_password_hashing=True))
    try:
        eve = make_user(platform, email="eve@example.com", name="Eve")
        with platform.deps.uow() as uow:  # as a KYC submission in that name would
            made = monitoring.screen_customer(
                platform.deps, uow, subject=("user", eve.user.id), name="Dmitry Khoroshev",
                kind=EntityKind.PERSON, source=("kyc", "k-1"))
            uow.commit()
    finally:
        platform.close()
    assert len(made) == 1
    code, out = _run(data, "alerts", "list", "--state", "open")
    assert code == 0 and made[0].id in out and "screening/sanctions" in out, out
    code, out = _run(data, "alerts", "show", made[0].id)
    assert code == 0 and json.loads(out)["explanation"]["hits"][0]["source_id"] == "48603"
    code, out = _run(data, "cases", "list")
    assert code == 0 and made[0].case_id in out and eve.user.id in out, out
    code, out = _run(data, "cases", "show", made[0].case_id)
    assert code == 0 and "case " + made[0].case_id in out and "Eve" in out, out
    assert "KHOROSHEV, Dmitry Yuryevich" in out and "khoroshev" in out
    code, out = _run(data, "cases", "show", "nope")
    assert code == 1 and "error:" in out
