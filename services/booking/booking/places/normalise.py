"""Address normalisation, so '200 east santa clara street' finds '200 E Santa Clara St'.

usaddress splits the text into its parts; USPS Publication 28 abbreviations
make the parts comparable. The key is the street line only (number,
direction, name, type, unit): the city is one city, and residents often leave
out the ZIP code.
"""
from __future__ import annotations

import re
import unicodedata

import usaddress

_DIRECTIONS = {"NORTH": "N", "SOUTH": "S", "EAST": "E", "WEST": "W",
               "NORTHEAST": "NE", "NORTHWEST": "NW", "SOUTHEAST": "SE", "SOUTHWEST": "SW"}
_STREET_TYPES = {
    "AVENUE": "AVE", "AV": "AVE", "BOULEVARD": "BLVD", "CIRCLE": "CIR", "COURT": "CT", "DRIVE": "DR",
    "EXPRESSWAY": "EXPY", "HIGHWAY": "HWY", "LANE": "LN", "LOOP": "LOOP", "PARKWAY": "PKWY", "PLACE": "PL",
    "PLAZA": "PLZ", "ROAD": "RD", "SQUARE": "SQ", "STREET": "ST", "TERRACE": "TER", "TRAIL": "TRL",
    "WAY": "WAY", "ALLEY": "ALY",
}


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Z0-9 #-]", " ", text.upper())


def _words(text: str) -> str:
    return " ".join(text.split())


def normalise(address: str) -> str:
    """The comparable key of an address's street line ('' when no street line is recognisable)."""
    try:
        parts, _kind = usaddress.tag(address)
    except usaddress.RepeatedLabelError:
        return _words(_clean(address))
    number = _words(_clean(parts.get("AddressNumber", "")))
    pre = _words(_clean(parts.get("StreetNamePreDirectional", "")))
    name = _words(_clean(parts.get("StreetName", "")))
    post_type = _words(_clean(parts.get("StreetNamePostType", "")))
    post_dir = _words(_clean(parts.get("StreetNamePostDirectional", "")))
    unit = _words(_clean(parts.get("OccupancyIdentifier", "")))
    pre = _DIRECTIONS.get(pre, pre)
    post_dir = _DIRECTIONS.get(post_dir, post_dir)
    post_type = _STREET_TYPES.get(post_type, post_type)
    line = " ".join(p for p in (number, pre, name, post_type, post_dir) if p)
    if unit:
        line += f" #{unit.lstrip('#')}"
    return line


def street_of(address: str) -> str:
    """The normalised street without the house number, for suggestions on the same street."""
    return " ".join(normalise(address).split(" ")[1:])
