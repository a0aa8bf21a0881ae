"""Plain-word summaries of why a draft formulation failed, for the user.

Validation issues name paths and symbols ("constraints[0].forall[0].set: unknown set P");
when they all come from one missing part of the model ("the model declared no sets"),
say that first, so the user does not have to read the repair transcript to learn it.
"""

from __future__ import annotations

import re

# (issue pattern, the draft's list that is empty, what to say)
_MISSING = (
    (re.compile(r"unknown set (\w+)"), "sets", "sets"),
    (re.compile(r"unknown (?:name|parameter) (\w+)"), "parameters", "parameters"),
    (re.compile(r"unknown (?:name|variable) (\w+)"), "variables", "variables"),
)


def missing_parts(draft: object, messages: list[str]) -> list[str]:
    """One sentence per empty element (sets, parameters, variables) that the issues trip over."""
    if not isinstance(draft, dict):
        return []
    out = []
    for pattern, key, word in _MISSING:
        declared = draft.get(key)
        if declared:  # declared something: the issue is a misspelling, not a missing part
            continue
        names = sorted({m.group(1) for msg in messages for m in pattern.finditer(msg)})
        if names:
            shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            out.append(f"the model declared no {word}, but its formulation uses {shown}")
    return out
