"""CORRIDOR_HOME (issue 15): every command that takes `--home` reads it as its default, so
`corridor up` and the commands used beside it agree on one home without repeating it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from corridor.cli.common import HOME_ENV
from corridor.cli.main import app

runner = CliRunner()


def _commands(group: Any, path: str = "corridor") -> Iterator[tuple[str, Any]]:
    # typer's own click (typer._click in recent versions): duck-typed, not isinstance
    yield path, group
    for name, sub in getattr(group, "commands", {}).items():
            yield from _commands(sub, f"{path} {name}")


def test_every_home_option_reads_corridor_home() -> None:
    with_home = []
    for path, command in _commands(typer.main.get_command(app)):
        for param in command.params:
            if "--home" in getattr(param, "opts", ()):
                with_home.append(path)
                assert param.envvar == HOME_ENV, f"{path}: --home ignores {HOME_ENV}"
    assert "corridor up" in with_home and "corridor tx pay" in with_home
    assert "corridor light verify-account" in with_home and "corridor node init" in with_home


def test_keys_made_and_read_through_corridor_home(tmp_path: Path) -> None:
    env = {HOME_ENV: str(tmp_path / "home")}
    made = runner.invoke(app, ["keys", "new", "carol"], env=env)
    assert made.exit_code == 0, made.output
    assert (tmp_path / "home" / "wallets" / "carol.json").exists()
    shown = runner.invoke(app, ["keys", "show", "carol"], env=env)
    assert shown.exit_code == 0 and "c" in shown.output, shown.output
