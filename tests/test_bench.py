"""benchmarks/bench.py's command line: which stacks it runs, what it refuses, its exit code.

The shared harness (a Node load generator, minutes per scenario) is replaced by
a small stand-in with the same interface: ``run_all.sh RUNS STACKS SCENARIOS``
writes ``results/runN/STACK-SCENARIO.json`` (or nothing, for a stack named in
``FAKE_NO_RESULT``) and records the stacks it was given; ``summarize.py`` prints
a one-line table. Everything else (argument checks, the stack files, collecting
and saving results, the exit code) is bench.py's own code, run for real.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]

RUN_ALL = """#!/usr/bin/env bash
set -eu
cd "$(dirname "$0")"
echo "$2" > stacks-given
for r in $(seq 1 "$1"); do
  mkdir -p "results/run$r"
  for sc in $3; do
    for st in $2; do
      echo "run$r $sc $st 00:00:00" >&2
      if [[ " ${FAKE_NO_RESULT:-} " == *" $st "* ]]; then
        echo "server exited; see the log" > "results/run$r/$st-$sc.stderr"
        : > "results/run$r/$st-$sc.json"
      else
        echo "{\\"scenario\\": \\"$sc\\", \\"msgs_per_s\\": 1}" > "results/run$r/$st-$sc.json"
      fi
    done
  done
done
"""


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench", REPO / "benchmarks" / "bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """bench.py with its results folder in ``tmp_path``, not in the checkout."""
    module = load_bench()
    monkeypatch.setattr(module, "RESULTS", tmp_path / "results")
    monkeypatch.delenv("FAKE_NO_RESULT", raising=False)
    return module


@pytest.fixture
def harness(tmp_path: Path) -> Path:
    """A writable, set-up stand-in for the shared harness."""
    root = tmp_path / "harness"
    (root / "node_modules").mkdir(parents=True)
    (root / "venv" / "bin").mkdir(parents=True)
    (root / "venv" / "bin" / "python").symlink_to(sys.executable)
    (root / "run_all.sh").write_text(RUN_ALL)
    (root / "run_all.sh").chmod(0o755)
    (root / "summarize.py").write_text("print('| metric | table |')\n")
    return root


def test_stacks_separated_by_commas_all_run(
    bench: ModuleType, harness: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = bench.main(["--harness", str(harness), "--stacks", "chattrio,wsa, node",
                       "--scenarios", "pairs,idle"])
    assert code == 0
    assert (harness / "stacks-given").read_text().split() == ["chattrio", "wsa", "node"]
    assert "| metric | table |" in capsys.readouterr().out
    for stack in ("chattrio", "wsa", "node"):
        for scenario in ("pairs", "idle"):
            assert (harness / "results" / "run1" / f"{stack}-{scenario}.json").is_file()


@pytest.mark.parametrize(
    ("stacks", "message"),
    [
        ("chattrio,wsa,nodejs", "unknown stack(s) nodejs"),
        ("", "no stack given"),
        (" , ", "no stack given"),
        ("chattrio,before", "stack `before` needs --before GIT_REF"),
    ],
)
def test_an_unknown_stack_or_empty_selection_is_refused_with_exit_2(
    bench: ModuleType, harness: Path, capsys: pytest.CaptureFixture[str],
    stacks: str, message: str,
) -> None:
    with pytest.raises(SystemExit) as exc:
        bench.main(["--harness", str(harness), "--stacks", stacks])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not (harness / "stacks-given").exists()  # nothing ran


def test_an_unknown_scenario_is_refused_with_exit_2(
    bench: ModuleType, harness: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        bench.main(["--harness", str(harness), "--scenarios", "fanout,fan-out"])
    assert exc.value.code == 2
    assert "unknown fan-out" in capsys.readouterr().err
    assert not (harness / "stacks-given").exists()


def test_a_stack_without_a_result_makes_the_run_fail(
    bench: ModuleType, harness: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_NO_RESULT", "wsa")
    code = bench.main(["--harness", str(harness), "--stacks", "chattrio wsa",
                       "--scenarios", "pairs"])
    assert code != 0
    err = capsys.readouterr().err
    assert "run1 wsa pairs: no result (server exited; see the log)" in err
    assert "chattrio pairs" not in err.split("produced no result")[-1]


def test_chat_trio_bench_exits_2_on_an_unknown_stack(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "chat_trio", "bench", "--stacks", "chattrio,nope"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
        env={**os.environ, "CHAT_TRIO_BENCH_HARNESS": str(tmp_path / "no-harness")},
    )
    assert out.returncode == 2
    assert "unknown stack(s) nope" in out.stderr
