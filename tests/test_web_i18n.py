"""The web client's languages agree: the checks of web/scripts/check-i18n.mjs, in Python.

`npm run build` runs the node script; this runs the same rules over the same files
so that CI, which does not run npm, fails too when a language lacks a key of
en.json, a text is empty, a text's {{placeholders}} or <tags> differ from the
English ones, or the source uses a key en.json lacks. Each rule is also shown
to catch a broken copy of the files.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
MARKER = re.compile(r"\{\{\s*([\w.]+)\s*\}\}|</?(\w+)\s*/?>")
LITERAL = re.compile(r"""["'`]([a-z][A-Za-z0-9]*(?:\.[A-Za-z0-9_]+)+)["'`]""")


def flatten(tree: dict[str, object], prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in tree.items():
        key = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            out.update(flatten(v, key))
        else:
            out[key] = v
    return out


def markers(text: object) -> str:
    found = [f"{{{{{m[1]}}}}}" if m[1] else f"<{m[2]}>" for m in MARKER.finditer(str(text))]
    return " ".join(sorted(found))


def check(web: Path) -> list[str]:
    """Every problem, as the node script words it; [] when the languages agree."""
    locales = web / "src" / "locales"

    def load(name: str) -> dict[str, object]:
        return flatten(json.loads((locales / name).read_text(encoding="utf-8")))

    en = load("en.json")
    namespaces = {k.split(".")[0] for k in en}
    problems: list[str] = []
    for path in sorted(locales.glob("*.json")):
        lang = load(path.name)
        for key, text in en.items():
            if key not in lang:
                problems.append(f"{path.name}: missing key {key}")
            elif not isinstance(lang[key], str) or not str(lang[key]).strip():
                problems.append(f"{path.name}: empty text for {key}")
            elif markers(lang[key]) != markers(text):
                problems.append(f"{path.name}: {key} has other placeholders than en.json")
        problems += [f"{path.name}: key {k} is not in en.json" for k in lang if k not in en]
    for source in sorted((web / "src").rglob("*")):
        if source.suffix not in {".js", ".jsx", ".mjs"}:
            continue
        for m in LITERAL.finditer(source.read_text(encoding="utf-8")):
            key = m.group(1)
            if key.split(".")[0] in namespaces and key not in en:
                problems.append(f"{source.relative_to(web)}: uses key {key}, which en.json lacks")
    return problems


def test_every_language_has_every_key() -> None:
    assert check(WEB) == []


def test_the_three_languages_are_there() -> None:
    assert sorted(p.stem for p in (WEB / "src" / "locales").glob("*.json")) == ["en", "es", "zh"]


def test_the_build_runs_the_check() -> None:
    scripts = json.loads((WEB / "package.json").read_text())["scripts"]
    assert scripts["build"].startswith("node scripts/check-i18n.mjs && ")


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    """A copy of web/src to break."""
    shutil.copytree(WEB / "src", tmp_path / "src")
    return tmp_path


def _edit(path: Path, change: object) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)  # type: ignore[operator]
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def test_a_missing_key_is_caught(broken: Path) -> None:
    _edit(broken / "src/locales/zh.json", lambda d: d["call"].pop("hangup"))
    assert check(broken) == ["zh.json: missing key call.hangup"]


def test_an_empty_text_and_a_lost_placeholder_are_caught(broken: Path) -> None:
    def change(d: dict[str, dict[str, str]]) -> None:
        d["chat"]["send"] = " "
        d["call"]["missed"] = "Llamada perdida"

    _edit(broken / "src/locales/es.json", change)
    assert check(broken) == [
        "es.json: empty text for chat.send",
        "es.json: call.missed has other placeholders than en.json",
    ]


def test_a_key_only_in_another_language_is_caught(broken: Path) -> None:
    _edit(broken / "src/locales/es.json", lambda d: d["chat"].update(extra="x"))
    assert check(broken) == ["es.json: key chat.extra is not in en.json"]


def test_a_key_the_source_uses_but_english_lacks_is_caught(broken: Path) -> None:
    view = broken / "src/components/ChatView.jsx"
    view.write_text(view.read_text().replace('"chat.pick"', '"chat.pickOne"'))
    assert check(broken) == [
        "src/components/ChatView.jsx: uses key chat.pickOne, which en.json lacks"
    ]
