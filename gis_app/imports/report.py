"""The report of an import's rejected features: grouped by reason (values folded) with counts,
most frequent first, each with its first features; shared by layer and boundary imports."""

from __future__ import annotations

import re
from collections import defaultdict

EXAMPLES = 5


def reason_key(reason: str) -> str:
    """A reason with its particular values (quoted text, numbers, parentheses) folded to '…';
    a quoted field name that starts the reason ("'voltage_kv' is required") is kept."""
    head = re.match(r"'[^']*'", reason)
    start = head.end() if head else 0
    return reason[:start] + re.sub(r"'[^']*'|#\d+|\d+(\.\d+)?%?|\([^)]*\)", "…", reason[start:])


def group_reasons(rejected: dict[int, list[str]], labels: dict[int, str | None]) -> list[dict]:
    """[{reason, count, features: ["#index label", ...first five]}], most frequent first."""
    groups: dict[str, list[str]] = defaultdict(list)
    for index, reasons in sorted(rejected.items()):
        for reason in reasons:
            groups[reason_key(reason)].append(f"#{index} {labels.get(index) or ''}".strip())
    ordered = sorted(groups.items(), key=lambda kv: -len(kv[1]))
    return [{"reason": k, "count": len(v), "features": v[:EXAMPLES]} for k, v in ordered]
