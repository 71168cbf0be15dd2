"""How many SMS segments a text costs.

A text that fits the GSM 03.38 alphabet is sent in GSM-7: 160 septets in one
message, 153 per part when concatenated; the extension characters (€ { } [ ] ~
\\ ^ |) take two septets each. Anything else (Vietnamese, and Spanish with á í
ó ú) goes as UCS-2: 70 UTF-16 code units alone, 67 per part.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import gsm0338  # noqa: F401  registers the "gsm03.38" codec


@dataclass(frozen=True)
class Segments:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets or UTF-16 code units
    count: int


def count(text: str) -> Segments:
    try:
        septets = len(text.encode("gsm03.38"))
    except UnicodeEncodeError:
        units = len(text.encode("utf-16-le")) // 2
        return Segments("UCS-2", units, 1 if units <= 70 else math.ceil(units / 67))
    return Segments("GSM-7", septets, 1 if septets <= 160 else math.ceil(septets / 153))
