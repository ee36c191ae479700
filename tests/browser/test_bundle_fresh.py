"""web/dist is committed; this keeps it equal to the sources it is built from.

web/scripts/source-hash.mjs writes web/dist/.source-hash at the end of every
`npm run build`. The hash is recomputed here the same way: for every build
input, in sorted order of its path relative to the repository root, feed
"<path>\\n<sha256 hex of its bytes>\\n" into one sha256.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
STALE = "web/dist is stale: run `npm --prefix web ci && npm --prefix web run build`"


def _walk(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []


def source_files() -> list[str]:
    files = [
        *_walk(WEB / "src"),
        *_walk(WEB / "public"),
        *_walk(WEB / "scripts"),
        WEB / "index.html",
        WEB / "package.json",
        WEB / "package-lock.json",
        ROOT / "proto" / "message.proto",
        *WEB.glob("vite.config.*"),
    ]
    return sorted(p.relative_to(ROOT).as_posix() for p in files)


def source_hash() -> str:
    h = hashlib.sha256()
    for rel in source_files():
        digest = hashlib.sha256((ROOT / rel).read_bytes()).hexdigest()
        h.update(f"{rel}\n{digest}\n".encode())
    return h.hexdigest()


def test_dist_is_built_from_current_sources() -> None:
    recorded = WEB / "dist" / ".source-hash"
    assert recorded.exists(), STALE
    assert recorded.read_text().strip() == source_hash(), STALE


def test_dist_is_marked_generated() -> None:
    assert (WEB / "dist" / "GENERATED.txt").exists(), STALE
    assert (WEB / "dist" / "index.html").exists(), STALE


def test_index_uses_root_relative_assets() -> None:
    html = (WEB / "dist" / "index.html").read_text()
    assert 'src="/assets/' in html
