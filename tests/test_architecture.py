"""Rules of the source tree that no linter checks: no module uses another module's private names.

(The layer arrows are `lint-imports` contracts in pyproject.toml, run by `make lint`.)
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "liveshop"


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_uses(path: Path) -> list[str]:
    """``file:line name`` for each private name of another liveshop module that ``path`` uses:
    ``from liveshop.x import _y`` and ``x._y`` where ``x`` was imported from liveshop."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules: set[str] = set()  # local names bound to liveshop modules
    found: list[str] = []
    for node in ast.walk(tree):
        ours = isinstance(node, ast.ImportFrom) and (
            node.level > 0 or (node.module or "").startswith("liveshop")
        )
        if isinstance(node, ast.ImportFrom) and ours:
            source = "." * node.level + (node.module or "")
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"{path.name}:{node.lineno} {source}.{alias.name}")
                modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("liveshop"):
                    modules.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and _private(node.attr)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
        ):
            found.append(f"{path.name}:{node.lineno} {node.value.id}.{node.attr}")
    return found


def test_no_module_imports_a_private_name_of_another() -> None:
    """No file under src/ imports or reaches a private (``_x``) name of another liveshop module."""
    offenders = [use for path in sorted(SRC.rglob("*.py")) for use in private_uses(path)]
    assert offenders == []


def test_the_check_sees_private_imports(tmp_path: Path) -> None:
    """The check above finds every form it looks for (so an empty answer means something)."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from liveshop.media.sfu import _parse_offer\n"
        "from liveshop.media import rtputil\n"
        "rtputil._vp8_descriptor_size(b'')\n"
        "from liveshop.media.sfu import public_name\n"
        "from ..sfu import _negotiated\n"
    )
    assert [u.split(" ")[1] for u in private_uses(sample)] == [
        "liveshop.media.sfu._parse_offer",
        "..sfu._negotiated",
        "rtputil._vp8_descriptor_size",
    ]
