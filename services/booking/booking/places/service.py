"""Who serves an address: match it to a city address point and its zone's hauler."""
from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from ..errors import AddressNotServed, AmbiguousAddress, UnknownAddress
from . import repository
from .normalise import normalise, street_of


@dataclass(frozen=True)
class ServicePoint:
    address_id: str
    address: str
    latitude: float
    longitude: float
    land_use: str
    zone_id: str
    zone_name: str
    hauler_id: str
    hauler_name: str
    collection_day: str | None


async def resolve(conn: asyncpg.Connection, *, address: str) -> ServicePoint:
    key = normalise(address)
    row = await repository.find_address(conn, key) if key else None
    if row is None and key:
        # Residents often leave out the street's direction ("200 Santa Clara St"): one match is
        # the address they meant; several (E and W) must be chosen between, never guessed.
        candidates = await repository.find_ignoring_direction(conn, key)
        if len(candidates) == 1:
            row = candidates[0]
        elif len(candidates) > 1:
            raise AmbiguousAddress(f"'{address}' matches more than one address. Choose one.",
                                   suggestions=[c["address"] for c in candidates])
    if row is None:
        suggestions = await repository.addresses_on_street(conn, street_of(address)) if key else []
        raise UnknownAddress(
            f"We could not find '{address}' among the city's addresses. Check the house number and street.",
            suggestions=suggestions,
        )
    if row["zone_id"] is None:
        raise AddressNotServed(f"'{row['address']}' is not in a junk pickup service zone.")
    return ServicePoint(
        address_id=row["id"],
        address=row["address"],
        latitude=row["latitude"],
        longitude=row["longitude"],
        land_use=row["land_use"],
        zone_id=row["zone_id"],
        zone_name=row["zone_name"],
        hauler_id=row["hauler_id"],
        hauler_name=row["hauler_name"],
        collection_day=row["collection_day"],
    )
