"""The role table of domain.access rendered for the README (kept in step by a test)."""

from __future__ import annotations

from domain.access import OPERATION_ROLES, Role

BEGIN = "<!-- access-matrix:begin -->"
END = "<!-- access-matrix:end -->"


def render() -> str:
    roles = list(Role)
    lines = [
        "| operation | " + " | ".join(r.value for r in roles) + " |",
        "|---|" + "---|" * len(roles),
    ]
    for operation, allowed in OPERATION_ROLES.items():
        name = operation.replace(".subscription", " (subscription)")
        marks = " | ".join("yes" if role in allowed else "—" for role in roles)
        lines.append(f"| `{name}` | {marks} |")
    return "\n".join([BEGIN, *lines, END])
