"""Text from a file or a model is data: make it safe to show on a terminal.

`safe_text(s)` is the one function every human-facing output uses (rich tables and
panels, error messages, Markdown / LaTeX exports, comment lines). It replaces each
character that can steer a terminal or hide what is shown with a visible escape
(`\\x1b`, `\\u202e`), so nothing is lost and nothing is interpreted:

- C0 controls except tab and newline (ESC starts CSI/OSC sequences; CR overwrites a line),
  DEL, and C1 controls (U+0080-009F; U+009B is a one-byte CSI),
- format characters (category Cf): bidi overrides and isolates U+202A-202E, U+2066-2069,
  marks U+200E/F, U+061C, zero-width space, BOM, invisible operators, tag characters
  (U+E0000-E007F, used to hide text); the joiners U+200C/U+200D stay (scripts and emoji need them),
- line and paragraph separators U+2028/2029,
- lone surrogates (they cannot even be encoded as UTF-8; printing one is a traceback).

`safe_json(text)` does the same for serialised JSON by writing those characters as
`\\uXXXX` escapes: the JSON decodes to the same data.
"""

from __future__ import annotations

import re
import unicodedata

_KEEP = frozenset("\t\n\u200c\u200d")
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_CANDIDATE = re.compile(r"[^\t\n\x20-\x7e]")  # everything not plain printable ASCII


def is_unsafe(ch: str) -> bool:
    """Whether one character must not reach a terminal as is."""
    if ch in _KEEP:
        return False
    o = ord(ch)
    if o < 0x20 or o == 0x7F:
        return True
    if o < 0x7F:
        return False
    return unicodedata.category(ch) in _UNSAFE_CATEGORIES


def _visible(ch: str) -> str:
    o = ord(ch)
    if o < 0x100:
        return f"\\x{o:02x}"
    if o < 0x10000:
        return f"\\u{o:04x}"
    return f"\\U{o:08x}"


def _sub_visible(m: re.Match) -> str:
    ch = m.group(0)
    return _visible(ch) if is_unsafe(ch) else ch


def safe_text(s, *, newlines: bool = True) -> str:
    """`s` (any object, via str) with every unsafe character written as a visible escape.

    With `newlines=False` newlines and tabs are escaped too (for one-line fields such
    as table cells of names, and export comment lines).
    """
    if not isinstance(s, str):
        try:
            s = str(s)
        except Exception as e:  # noqa: BLE001 - e.g. str() of an int past 4,300 digits
            return f"<unprintable {type(s).__name__}: {type(e).__name__}>"
    out = _CANDIDATE.sub(_sub_visible, s)
    if not newlines:
        out = out.replace("\n", "\\n").replace("\t", "\\t")
    return out


def _json_escape(m: re.Match) -> str:
    ch = m.group(0)
    if not is_unsafe(ch):
        return ch
    o = ord(ch)
    if o < 0x10000:
        return f"\\u{o:04x}"
    o -= 0x10000  # astral: a UTF-16 surrogate pair, as JSON spells it
    return f"\\u{0xD800 + (o >> 10):04x}\\u{0xDC00 + (o & 0x3FF):04x}"


def safe_json(serialised: str) -> str:
    """Serialised JSON with unsafe characters as `\\uXXXX` escapes (same data when decoded).

    Only valid inside JSON strings is needed: outside them `json.dumps` writes ASCII.
    """
    return _CANDIDATE.sub(_json_escape, serialised)
