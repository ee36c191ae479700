"""The package's public surface: what ``chat_trio`` and its subpackages export.

In the manner of trio's ``_tests/test_exports.py``: the top level offers exactly
the documented names, each resolves, ``dir()`` and static tools see them, and
nothing else public sits there; each subpackage's ``__all__`` names things that
exist. No sockets, no server.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import subprocess
import sys
import types
from pathlib import Path

import pytest

import chat_trio

#: The documented public names (the package docstring lists each one).
PUBLIC = {"Config", "__version__", "load_config", "serve"}
SUBPACKAGES = ("transport", "bus", "storage", "api", "intake")


def test_all_is_exactly_the_documented_surface() -> None:
    assert sorted(chat_trio.__all__) == sorted(PUBLIC)
    assert len(set(chat_trio.__all__)) == len(chat_trio.__all__)
    doc = chat_trio.__doc__ or ""
    for name in PUBLIC:
        assert name in doc, f"{name} is exported but the package docstring does not say so"


def test_each_public_name_resolves() -> None:
    from chat_trio import app, config

    assert chat_trio.Config is config.Config
    assert chat_trio.load_config is config.load_config
    assert chat_trio.serve is app.serve
    assert chat_trio.__version__ == importlib.metadata.version("chat-trio")


def test_dir_lists_the_public_names() -> None:
    assert set(dir(chat_trio)) >= PUBLIC


def test_nothing_else_public_at_the_top_level() -> None:
    """Besides the public names, only submodules (bound when they are imported)."""
    for name in {*vars(chat_trio), *dir(chat_trio)}:
        if name.startswith("_") or name in PUBLIC:
            continue
        value = getattr(chat_trio, name)
        assert isinstance(value, types.ModuleType), f"chat_trio.{name} is public by accident"
        assert value.__name__ == f"chat_trio.{name}"


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = chat_trio.no_such_name
    with pytest.raises(ImportError):
        from chat_trio import no_such_name  # noqa: F401


def test_static_tools_see_the_lazy_names() -> None:
    """What ``__getattr__`` resolves at run time is imported under TYPE_CHECKING, so
    mypy and editors know each public name (trio checks the same with jedi/pylint)."""
    tree = ast.parse(Path(chat_trio.__file__).read_text(encoding="utf-8"))
    seen: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            seen.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Assign):
            seen.update(t.id for t in node.targets if isinstance(t, ast.Name))
    assert seen >= PUBLIC


def test_importing_the_package_loads_no_server() -> None:
    """``chat-trio --help`` imports the package and the CLI, not the server."""
    code = (
        "import sys, chat_trio, chat_trio.cli\n"
        "heavy = ('chat_trio.app', 'chat_trio.hub', 'quart', 'hypercorn', 'sqlalchemy')\n"
        "print(' '.join(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == ""


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_each_subpackage_all_resolves(name: str) -> None:
    module = importlib.import_module(f"chat_trio.{name}")
    exported = getattr(module, "__all__", None)
    assert exported, f"chat_trio.{name} has no __all__"
    assert len(set(exported)) == len(exported)
    for public in exported:
        assert getattr(module, public, None) is not None, f"chat_trio.{name}.{public}"
