"""The import-linter contracts in pyproject.toml hold, and a wrong import breaks them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("adapters", "bot", "storage", "prompts", "testkit")
# The same tool CI runs, from this interpreter's environment (the project's dev extra installs it).
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    """Run every contract of root/pyproject.toml against the packages found in root."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_contracts_hold() -> None:
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def copy_of_the_project(tmp_path: Path) -> Path:
    """The packages and pyproject.toml in a scratch folder, to add a wrong import to."""
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_a_wrong_import_breaks_a_contract(tmp_path: Path) -> None:
    root = copy_of_the_project(tmp_path)
    wrong = {
        "bot/wrong_way_up.py": "import adapters.console\n",
        "storage/wrong_sdk.py": "import slack_sdk\n",
        "adapters/slack/wrong_neighbour.py": "import adapters.discord.client\n",
    }
    for path, line in wrong.items():
        (root / path).write_text(line)
    result = lint(root)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "bot.wrong_way_up -> adapters.console" in result.stdout
    assert "storage.wrong_sdk -> slack_sdk" in result.stdout
    assert "adapters.slack.wrong_neighbour -> adapters.discord.client" in result.stdout


def test_an_import_circle_breaks_a_contract(tmp_path: Path) -> None:
    root = copy_of_the_project(tmp_path)
    # storage.migrate must never import storage.db (docs/architecture.md, Layering).
    migrate = root / "storage" / "migrate.py"
    migrate.write_text(migrate.read_text() + "\nimport storage.db  # noqa: E402\n")
    result = lint(root)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "No cycles are allowed in storage" in result.stdout
