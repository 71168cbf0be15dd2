"""Operators add a hauler by configuration through the API; what cannot work is refused, saying why."""
from __future__ import annotations

import copy

from devstack.stack import NORTHSIDE_CONFIG
from haulbridge_runtime.topics import EventType
from test_dispatch import booking_requested, hauler_events, publish

STAFF = {"Authorization": "Bearer adapters-test-operator-token"}


async def test_a_new_json_vendor_is_added_by_configuration_and_takes_bookings_at_once(
        adapters, adapter_settings, northside):
    integration = {"kind": "declarative_json", "base_url": northside, "api_key_env": "NORTHSIDE_CLIENT_SECRET",
                   "config": NORTHSIDE_CONFIG}
    assert (await adapters.put("/admin/v1/integrations/cupertino-cartage", json=integration)).status_code == 401

    typo = copy.deepcopy(integration)
    typo["config"]["create"]["external_ref"] = "data.pickup.[id"
    refused = await adapters.put("/admin/v1/integrations/cupertino-cartage", headers=STAFF, json=typo)
    assert refused.status_code == 422 and "external_ref" in refused.json()["detail"]
    unknown = await adapters.put("/admin/v1/integrations/cupertino-cartage", headers=STAFF,
                                 json={**integration, "kind": "fax"})
    assert unknown.status_code == 422 and "no adapter for vendor kind 'fax'" in unknown.json()["detail"]
    secret_inline = await adapters.put("/admin/v1/integrations/cupertino-cartage", headers=STAFF,
                                       json={**integration, "api_key_env": "s3cr3t-value!"})
    assert secret_inline.status_code == 422  # credentials are named, never stored

    stored = await adapters.put("/admin/v1/integrations/cupertino-cartage", headers=STAFF, json=integration)
    assert stored.status_code == 200
    listed = (await adapters.get("/admin/v1/integrations", headers=STAFF)).json()
    assert "cupertino-cartage" in {i["hauler_id"] for i in listed}

    await publish(adapter_settings, booking_requested(hauler_id="cupertino-cartage"))
    [accepted, *_] = await hauler_events(adapter_settings, expect=1)
    assert accepted["type"] == EventType.DISPATCH_ACCEPTED and accepted["data"]["hauler_reference"].startswith("NS-")
