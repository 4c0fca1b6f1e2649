"""The testing kit is a package of its own: it imports from outside the checkout, and the benchmarks that
use it still run (smallest sizes, to check they work, not how fast)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_testkit_imports_outside_the_checkout(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", "import testkit.fake_slack, testkit.fake_discord, testkit.messenger, "
                           "testkit.console; print(testkit.fake_slack.__name__)"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "testkit.fake_slack"


@pytest.mark.parametrize("script, args", [
    ("slack_ack.py", ["--total", "100", "--concurrency", "10", "--users", "3"]),
    ("big_command.py", ["--size", "2000"]),
    ("fanout.py", ["--pairs", "5"]),
    ("fanout.py", ["--pairs", "3", "--slack"]),
    ("chaos.py", ["--pairs", "20", "--timeout", "120"]),  # real `mentorbot run --slack` processes, no faults
    ("matching.py", ["--mentees", "60", "--mentors", "15", "--small", "20x5"]),
])
def test_bench_scripts_still_run(tmp_path: Path, script: str, args: list[str]) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
