"""Print :func:`robopref.info.describe`'s dict for people: one ``key: value`` per line,
nested dicts indented, short lists inline."""

from __future__ import annotations

from typing import Any


def render(info: dict[str, Any], indent: int = 0) -> str:
    """``info`` as indented ``key: value`` lines."""
    lines = []
    pad = "  " * indent
    for k, v in info.items():
        if isinstance(v, dict) and v:
            lines.append(f"{pad}{k}:")
            lines.append(render(v, indent + 1))
        elif isinstance(v, (list, tuple)) and len(v) > 8:
            lines.append(f"{pad}{k}: [{', '.join(map(str, v[:8]))}, ... {len(v)} in all]")
        elif isinstance(v, (list, tuple)):
            lines.append(f"{pad}{k}: [{', '.join(map(str, v))}]")
        else:
            lines.append(f"{pad}{k}: {v}")
    return "\n".join(lines)
