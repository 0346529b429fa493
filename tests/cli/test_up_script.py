"""`scripts/up.sh` (README's first command) says what it is doing while it installs
(issue 15: 50 silent seconds looked like a hang), with pip's own progress lines."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Stands in for the virtual environment's python: pip "installs" by printing what the real
# one prints and creating the `corridor` command, which prints its arguments.
FAKE_PYTHON = """#!/usr/bin/env bash
echo "python $*" >> "$(dirname "$0")/calls"
if [ "$2" = pip ]; then
  echo "Collecting fastapi"; echo "Installing collected packages: fastapi, corridor"
  echo "Successfully installed corridor-0 fastapi-1"; echo "noise to hide"
  printf '#!/usr/bin/env bash\\necho "corridor $*"\\n' > "$(dirname "$0")/corridor"
  chmod +x "$(dirname "$0")/corridor"
fi
"""


def _copy(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    for script in ("up.sh", "system-deps.sh"):
        shutil.copy(ROOT / "scripts" / script, tmp_path / "scripts" / script)
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    python = bin_dir / "python"
    python.write_text(FAKE_PYTHON)
    python.chmod(python.stat().st_mode | stat.S_IEXEC)
    return tmp_path


def _up(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(root / "scripts" / "up.sh"), *args], cwd=root,
                          capture_output=True, text=True, timeout=60, check=False)


def test_the_first_install_shows_its_steps_and_progress(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    done = _up(root, "--platform-port", "8001")
    assert done.returncode == 0, done.stderr
    err = done.stderr
    assert "==> installing Corridor and its dependencies" in err
    assert "Collecting fastapi" in err and "Successfully installed" in err  # pip's progress
    assert "noise to hide" not in err + done.stdout
    assert "==> starting: corridor up --platform-port 8001" in err
    assert done.stdout.strip() == "corridor up --platform-port 8001"
    assert err.index("installing") < err.index("Collecting") < err.index("starting")


def test_a_later_start_only_checks_and_starts(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    assert _up(root).returncode == 0
    again = _up(root)
    assert again.returncode == 0, again.stderr
    assert "==> checking .venv is up to date" in again.stderr
    assert "installing Corridor" not in again.stderr
