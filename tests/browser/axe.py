"""axe-core in the page: the accessibility scan of the browser tests.

The script is axe-core's own axe.min.js, as the PyPI package axe-playwright-python
ships it (no npm needed in CI). A scan runs axe's WCAG 2.0/2.1 A and AA rules and
best practices over the whole document and keeps the violations whose impact is
"serious" or "critical": those fail the test, each named by rule and element.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect


def _axe_js() -> Path:
    """axe.min.js inside the installed package (found, not imported: only the file is used)."""
    spec = importlib.util.find_spec("axe_playwright_python")
    if spec is None or spec.origin is None:
        raise RuntimeError("axe-playwright-python is missing: pip install -e '.[test]'")
    return Path(spec.origin).with_name("axe.min.js")


AXE_JS = _axe_js()
FAILING = ("serious", "critical")
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def serious_violations(page: Page) -> list[str]:
    """One line per serious or critical violation in the page, once its transitions
    (a dialog fading in, a notice sliding away) have ended: colours halfway through
    a fade are not what a reader sees."""
    # A notice ("Profile saved") fades out after three seconds; one fading during
    # the scan reads as low contrast, so the scan waits for it to be gone.
    expect(page.locator(".ant-message-notice")).to_have_count(0)
    page.wait_for_function(
        """() => document.getAnimations().every(
            a => a.playState !== "running" || a.effect.getTiming().iterations === Infinity)"""
    )
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol: a <script> tag would be (rightly)
        # refused by the server's Content-Security-Policy.
        page.evaluate(AXE_JS.read_text(encoding="utf-8") + "\n;void 0")
    result: dict[str, Any] = page.evaluate(
        """tags => axe.run(document, {
            runOnly: {type: "tag", values: tags},
            resultTypes: ["violations"],
        })""",
        TAGS,
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(" ".join(n["target"]) for n in v["nodes"][:5])
        for v in result["violations"]
        if v["impact"] in FAILING
    ]


def assert_accessible(page: Page, where: str) -> None:
    found = serious_violations(page)
    assert found == [], f"axe on {where}:\n  " + "\n  ".join(found)
