"""Benchmark chat-trio against the relay peers with the shared harness, in one command.

    python benchmarks/bench.py                 # fanout, pairs, idle x chat-trio, wsa, node
    python benchmarks/bench.py --runs 2 --before main   # + the server as of git ref `main`
    python benchmarks/bench.py --scale         # + fan-out by members, idle by connections
    chat-trio bench ...                        # the same

The harness (a Node load generator, relay peers, run.sh/run_all.sh/summarize.py)
lives outside this repository; ``--harness`` or ``CHAT_TRIO_BENCH_HARNESS`` says
where (default: ``../shared/bench`` beside the checkout). A read-only or
uninstalled harness is copied to ``benchmarks/results/harness`` and set up there
(``npm ci``, a venv for the Python peers and py-spy).

chat-trio runs in the harness's rest mode: users registered over HTTP, real
groups, a token on every handshake, messages stored in a fresh SQLite file per
run. Argon2 is set cheap (registration is setup, not the measurement) and
logging to warnings. Stacks run interleaved within each run so that ratios are
same-period. Prints one Markdown table (medians and ratios to wsa and node) and
saves every result as JSON in benchmarks/results/ (``latest.json`` too);
``benchmarks/plot.py`` draws the saved JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
SERVER_ENV = {
    "CHAT_TRIO_AUTH_ARGON2MEMORYKIB": "1024",
    "CHAT_TRIO_AUTH_ARGON2TIMECOST": "1",
    "CHAT_TRIO_AUTH_ARGON2PARALLELISM": "1",
    "CHAT_TRIO_LOG_LEVEL": "warning",
    # The load generator sends far faster than a person: lift the per-session message
    # budget (20/s by default) so that the server, not the limit, is what is measured.
    "CHAT_TRIO_LIMITS_MESSAGESPERSECOND": "1000000",
    "CHAT_TRIO_LIMITS_MESSAGEBURST": "1000000",
    # Every load-generator user registers from 127.0.0.1.
    "CHAT_TRIO_LIMITS_REGISTRATIONSPERHOURPERADDRESS": "1000000",
    # The harness's receivers send nothing unless asked to heartbeat.
    "CHAT_TRIO_LIMITS_IDLETIMEOUT": "3600",
    # The connection cap derived from RLIMIT_NOFILE depends on the shell the harness
    # inherits; idle opens 5,050 sockets (the scale sweep as many) and the HTTP setup
    # 20 more. A fixed cap well above that, below run.sh's `ulimit -n 20000` less a
    # reserve, keeps the cap out of the measurement (see check_descriptors()).
    "CHAT_TRIO_SERVER_MAXCONNECTIONS": "12000",
}
#: Descriptors the server needs: SERVER_ENV's connection cap plus a reserve.
NEEDED_DESCRIPTORS = 12000 + 1000
NAMES = {"chattrio": "chat-trio", "before": "chat-trio (before)"}
#: Stacks this script knows: ours, and the harness's relay peers (run.sh starts them).
OURS = ("chattrio", "before")
PEERS = ("node", "wsa", "qt", "tw")
SCENARIOS = ("fanout", "pairs", "pairs_light", "idle", "check")
#: The scale sweep: fan-out by group size, idle by number of connections.
SCALE_RECEIVERS = (100, 300, 1000, 2000)
SCALE_CONNS = (1000, 2500, 5000)


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def default_harness() -> Path:
    env = os.environ.get("CHAT_TRIO_BENCH_HARNESS")
    return Path(env) if env else REPO.parent / "shared" / "bench"


def names(text: str) -> list[str]:
    """A list given as ``"a b"``, ``"a,b"`` or ``"a, b"``, in order, each name once."""
    out: list[str] = []
    for name in re.split(r"[\s,]+", text.strip()):
        if name and name not in out:
            out.append(name)
    return out


def harness_stacks(harness: Path) -> set[str]:
    """Stacks the harness has a ``stacks/NAME.sh`` preset for (other servers)."""
    return {p.stem for p in (harness / "stacks").glob("*.sh")} - set(OURS)


def check_stacks(
    ap: argparse.ArgumentParser, option: str, stacks: list[str], known: set[str], before: bool
) -> None:
    """Refuse (exit 2) an empty selection, an unknown stack, or `before` without --before."""
    if not stacks:
        ap.error(f"{option}: no stack given (choose from {', '.join(sorted(known))})")
    unknown = [s for s in stacks if s not in known]
    if unknown:
        ap.error(f"{option}: unknown stack(s) {', '.join(unknown)} "
                 f"(choose from {', '.join(sorted(known))}; commas or spaces between them)")
    if "before" in stacks and not before:
        ap.error(f"{option}: stack `before` needs --before GIT_REF")


def check_descriptors() -> None:
    """Exit with a clear message when run.sh's ``ulimit -n 20000`` cannot work here."""
    import resource  # POSIX only, like the harness

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 20000:
        sys.exit(f"the descriptor limit's hard cap is {hard}: the harness's run.sh sets "
                 f"`ulimit -n 20000` and the server needs about {NEEDED_DESCRIPTORS:,} "
                 "(raise the hard limit, e.g. LimitNOFILE or /etc/security/limits.conf)")


def prepare_harness(source: Path) -> Path:
    """A harness that is writable and set up: ``source`` itself, or a copy of it."""
    if not (source / "run_all.sh").is_file():
        sys.exit(f"no benchmark harness at {source} (use --harness or CHAT_TRIO_BENCH_HARNESS)")
    if os.access(source, os.W_OK) and (source / "node_modules").is_dir():
        harness = source
    else:
        harness = RESULTS / "harness"
        if not (harness / "run_all.sh").is_file():
            log(f"copying the harness to {harness}")
            shutil.copytree(source, harness, ignore=shutil.ignore_patterns("results", "venv"))
    if not (harness / "node_modules").is_dir():
        log("npm ci (the load generator's dependencies)")
        subprocess.run(["npm", "ci", "--silent"], cwd=harness, check=True)
    if not (harness / "venv" / "bin" / "python").exists():
        log("creating the harness venv (relay peers, py-spy)")
        subprocess.run([sys.executable, "-m", "venv", "venv"], cwd=harness, check=True)
        subprocess.run(
            ["venv/bin/pip", "install", "-q", "-r", "requirements.txt"], cwd=harness, check=True
        )
    return harness


def write_stack(harness: Path, name: str, chat_trio: str, pythonpath: str = "") -> None:
    """stacks/NAME.sh: chat-trio with a fresh database per run."""
    data = RESULTS / "data" / name
    data.mkdir(parents=True, exist_ok=True)
    env = dict(SERVER_ENV)
    env["CHAT_TRIO_SQLITE_PATH"] = str(data / "chat.db")
    env["CHAT_TRIO_STATICPATH_FILEPATH"] = str(data / "files")
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    assignments = " ".join(f"{k}={v}" for k, v in env.items())
    (harness / "stacks").mkdir(exist_ok=True)
    (harness / "stacks" / f"{name}.sh").write_text(
        f"STACK_CMD='env {assignments} {chat_trio} serve --port {{port}}'\n"
        f"STACK_CWD={data}\n"
        f"STACK_RESET='rm -rf {data}/chat.db* {data}/files'\n"
    )


def export_ref(ref: str) -> str:
    """The chat_trio package as it was at git ``ref``, for PYTHONPATH."""
    target = RESULTS / "before-src"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", ref, "chat_trio"], cwd=REPO, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return str(target)


STEP = re.compile(r"^run(\d+) (\S+) (\S+) \d\d:\d\d:\d\d$")
HEADLINE = {
    "fanout": ("max_sustained_deliv_s", "deliveries/s"),
    "pairs": ("msgs_per_s", "msgs/s"),
    "pairs_light": ("p50_ms", "ms p50"),
    "idle": ("kb_per_conn", "KB/conn"),
}


def run_all(harness: Path, runs: int, stacks: list[str], scenarios: list[str]) -> None:
    """Run the harness's run_all.sh, showing progress as it goes."""
    for old in harness.glob("results/run*"):
        shutil.rmtree(old)
    env = dict(os.environ)
    env.setdefault("QUIET_MAX_S", "30")
    for stack in stacks:
        if stack not in ("node", "wsa", "qt", "tw"):
            env[f"ARGS_{stack}"] = "--setup rest"
    total = runs * len(stacks) * len(scenarios)
    done = 0
    started = time.monotonic()
    proc = subprocess.Popen(
        ["./run_all.sh", str(runs), " ".join(stacks), " ".join(scenarios)],
        cwd=harness, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stderr is not None
    current = ""
    for line in proc.stderr:
        line = line.strip()
        step = STEP.match(line)
        if step:
            done += 1
            elapsed = time.monotonic() - started
            eta = elapsed / (done - 1) * (total - done + 1) if done > 1 else 0
            current = step.group(3)
            log(
                f"[{done}/{total}] run {step.group(1)}: {step.group(2)} on {current}"
                f"  ({elapsed / 60:.1f} min in" + (f", ~{eta / 60:.0f} min left)" if eta else ")")
            )
        elif line.startswith("{"):
            try:
                result = json.loads(line)
            except ValueError:
                continue
            key, unit = HEADLINE.get(str(result.get("scenario")), ("", ""))
            if key in result:
                log(f"        {current}: {result[key]:,} {unit}")
    proc.stderr.close()
    proc.wait()


def collect(harness: Path) -> dict[str, dict[str, list[dict[str, Any]]]]:
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for path in sorted(harness.glob("results/run*/*.json")):
        stack, scenario = path.stem.split("-", 1)
        lines = path.read_text().strip().splitlines()
        if not lines:
            continue
        try:
            obj = json.loads(lines[-1])
        except ValueError:
            continue
        obj["run"] = path.parent.name
        results.setdefault(stack, {}).setdefault(scenario, []).append(obj)
    return results


def summarize(harness: Path, stacks: list[str]) -> str:
    """summarize.py's table: ratios to the relays, and to `before` when it ran."""
    bases = ",".join(s for s in ("wsa", "node", "before") if s in stacks) or stacks[0]
    labels = [f"--name={k}={v}" for k, v in NAMES.items()]
    out = subprocess.run(
        ["venv/bin/python", "summarize.py", "--base", bases, *labels],
        cwd=harness, capture_output=True, text=True,
    )
    if out.returncode != 0:
        log(f"summarize.py failed ({out.returncode}): {out.stderr.strip()[-500:]}")
    return out.stdout


def scale(harness: Path, stacks: list[str]) -> list[dict[str, Any]]:
    """Fan-out by group size and idle cost by connection count, one run each."""
    points = []
    env = dict(os.environ)
    env.setdefault("QUIET_MAX_S", "30")
    plan = [("fanout", "--receivers", n) for n in SCALE_RECEIVERS]
    plan += [("idle", "--conns", n) for n in SCALE_CONNS]
    total = len(plan) * len(stacks)
    step = 0
    for scenario, option, n in plan:
        for stack in stacks:
            step += 1
            log(f"[scale {step}/{total}] {scenario} {option} {n} on {stack}")
            args = ["./run.sh", stack, scenario, option, str(n)]
            if stack not in ("node", "wsa", "qt", "tw"):
                args += ["--setup", "rest"]
            out = subprocess.run(args, cwd=harness, env=env, capture_output=True, text=True)
            lines = out.stdout.strip().splitlines()
            try:
                obj = json.loads(lines[-1]) if lines else {}
            except ValueError:
                obj = {}
            points.append({"stack": stack, "scenario": scenario, option[2:]: n, "result": obj})
    return points


def missing_results(harness: Path, runs: int, stacks: list[str], scenarios: list[str]) -> list[str]:
    """Every run x stack x scenario that printed no result (or a failed check), with why."""
    missing = []
    for run in range(1, runs + 1):
        for stack in stacks:
            for scenario in scenarios:
                base = harness / "results" / f"run{run}" / f"{stack}-{scenario}"
                obj = last_json(base.with_suffix(".json"))
                if obj is not None and (scenario != "check" or obj.get("ok")):
                    continue
                why = "check failed" if obj is not None else "no result"
                tail = last_line(base.with_suffix(".stderr"))
                detail = f" ({tail})" if tail else ""
                missing.append(f"run{run} {stack} {scenario}: {why}{detail}")
    return missing


def last_json(path: Path) -> dict[str, Any] | None:
    """The JSON object on the last line of ``path``, or None (missing, empty, not JSON)."""
    try:
        lines = path.read_text().strip().splitlines()
        obj = json.loads(lines[-1]) if lines else None
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def last_line(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--harness", type=Path, default=default_harness(),
                    help="the benchmark harness folder (default: ../shared/bench, "
                    "or CHAT_TRIO_BENCH_HARNESS)")
    ap.add_argument("--runs", type=int, default=1,
                    help="runs of every scenario; ratios are medians over runs (default 1)")
    ap.add_argument("--stacks", default="chattrio wsa node",
                    help="stacks, interleaved, separated by spaces or commas: chattrio, "
                    "before, the harness's peers (node, wsa, qt, tw) and its stacks/NAME.sh")
    ap.add_argument("--scenarios", default="fanout pairs idle",
                    help="harness scenarios, spaces or commas: " + ", ".join(SCENARIOS))
    ap.add_argument("--before", metavar="GIT_REF",
                    help="also run the server as it was at this git ref (stack `before`)")
    ap.add_argument("--scale", action="store_true",
                    help="also sweep group size (fan-out) and connection count (idle)")
    ap.add_argument("--scale-stacks", default="chattrio wsa",
                    help="stacks for the --scale sweep (default: chattrio wsa)")
    args = ap.parse_args(argv)

    source = args.harness.resolve()
    known = set(OURS) | set(PEERS) | harness_stacks(source) | harness_stacks(RESULTS / "harness")
    stacks = names(args.stacks)
    check_stacks(ap, "--stacks", stacks, known, bool(args.before))
    scale_stacks = names(args.scale_stacks) if args.scale else []
    if args.scale:
        check_stacks(ap, "--scale-stacks", scale_stacks, known, bool(args.before))
    scenarios = names(args.scenarios)
    if not scenarios:
        ap.error(f"--scenarios: none given (choose from {', '.join(SCENARIOS)})")
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        ap.error(f"--scenarios: unknown {', '.join(unknown)} (choose from {', '.join(SCENARIOS)})")
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    check_descriptors()

    RESULTS.mkdir(parents=True, exist_ok=True)
    harness = prepare_harness(source)
    # This interpreter and this checkout (PYTHONPATH), never another chat-trio on PATH.
    chat_trio = f"{sys.executable} -m chat_trio"
    write_stack(harness, "chattrio", chat_trio, pythonpath=str(REPO))
    if args.before:
        write_stack(harness, "before", chat_trio, pythonpath=export_ref(args.before))
        if "before" not in stacks:
            stacks.insert(1, "before")

    run_all(harness, args.runs, stacks, scenarios)
    table = summarize(harness, stacks)
    saved: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(),
        "runs": args.runs,
        "stacks": stacks,
        "scenarios": scenarios,
        "before": args.before,
        "server_env": SERVER_ENV,
        "results": collect(harness),
        "table_md": table,
    }
    missing = missing_results(harness, args.runs, stacks, scenarios)
    if args.scale:
        saved["scale"] = scale(harness, scale_stacks)
        missing += [f"scale {p['stack']} {p['scenario']} {p.get('receivers', p.get('conns'))}: "
                    "no result" for p in saved["scale"] if not p["result"]]
    saved["missing"] = missing
    path = RESULTS / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(saved, indent=1))
    (RESULTS / "latest.json").write_text(json.dumps(saved, indent=1))
    print(table)
    log(f"saved {path}")
    if missing:
        log(f"{len(missing)} step(s) produced no result; the server logs are in "
            f"{harness / 'results'}/server-STACK-SCENARIO.log:")
        for line in missing:
            log(f"  {line}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
