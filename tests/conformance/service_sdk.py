"""Conformance of the local hub with the official Python service SDK (azure-iot-hub).

Run by tests/sdk_conformance.rs against `twinlens hub --tls`; reads the hub's service
connection string from TWINLENS_SERVICE_CS and trusts its CA through REQUESTS_CA_BUNDLE.
Exits non-zero, naming the step, on the first behaviour that differs from IoT Hub.
"""

import os

from azure.iot.hub import IoTHubRegistryManager
from azure.iot.hub.models import QuerySpecification, Twin, TwinProperties
from msrest.exceptions import HttpOperationError

from conformance import check, run



def expect_status(status, what, call):
    try:
        call()
    except HttpOperationError as error:
        check(error.response.status_code == status, f"{what} -> HTTP {status} (got {error.response.status_code})")
        return
    raise AssertionError(f"{what} should have failed with HTTP {status}")


def main():
    registry = IoTHubRegistryManager.from_connection_string(os.environ["TWINLENS_SERVICE_CS"])

    device = registry.create_device_with_sas("py-dev-1", "", "", "enabled")
    check(device.device_id == "py-dev-1", "create_device_with_sas creates the device")
    keys = device.authentication.symmetric_key
    check(bool(keys.primary_key) and bool(keys.secondary_key), "the hub generated both keys")
    expect_status(409, "creating the same device again", lambda: registry.create_device_with_sas("py-dev-1", "", "", "enabled"))

    twin = registry.get_twin("py-dev-1")
    check(twin.device_id == "py-dev-1" and twin.etag, "get_twin returns the twin with an etag")
    check(twin.properties.desired["$version"] == 1, "a fresh twin has desired $version 1")

    patch = Twin(tags={"site": {"city": "Oslo"}}, properties=TwinProperties(desired={"interval": 30}))
    updated = registry.update_twin("py-dev-1", patch, twin.etag)
    check(updated.tags["site"]["city"] == "Oslo", "update_twin with the etag merges tags")
    check(updated.properties.desired["interval"] == 30, "update_twin merges desired properties")
    check(updated.etag != twin.etag, "update_twin changes the etag")
    expect_status(412, "update_twin with a stale etag", lambda: registry.update_twin("py-dev-1", patch, twin.etag))

    replacement = Twin(tags={"owner": "ops"}, properties=TwinProperties(desired={"mode": "eco"}))
    replaced = registry.replace_twin("py-dev-1", replacement)
    check(replaced.tags == {"owner": "ops"}, "replace_twin replaces tags")
    check("interval" not in replaced.properties.desired and replaced.properties.desired["mode"] == "eco",
          "replace_twin replaces desired properties")

    # A whole fetched twin sent back (as tools do) is accepted.
    fetched = registry.get_twin("py-dev-1")
    fetched.tags["owner"] = "platform"
    roundtrip = registry.update_twin("py-dev-1", fetched, fetched.etag)
    check(roundtrip.tags["owner"] == "platform", "a fetched twin can be patched back")

    for n in range(12):
        registry.create_device_with_sas(f"py-page-{n:02}", "", "", "enabled")
    spec = QuerySpecification(query="SELECT * FROM devices WHERE STARTSWITH(deviceId, 'py-page-')")
    seen, token, pages = [], None, 0
    while True:
        result = registry.query_iot_hub(spec, token, 5)
        pages += 1
        check(result.type == "twin", f"query page {pages} has item type twin")
        seen.extend(item.device_id for item in result.items)
        token = result.continuation_token
        if not token:
            break
    check(pages == 3, f"12 twins at 5 a page come in 3 pages (got {pages})")
    check(sorted(seen) == [f"py-page-{n:02}" for n in range(12)], "paging returns every twin once")

    registry.delete_device("py-dev-1")
    expect_status(404, "get_device after delete_device", lambda: registry.get_device("py-dev-1"))
    expect_status(404, "get_twin of an unknown device", lambda: registry.get_twin("nobody"))
    print("service SDK conformance: all checks passed", flush=True)


if __name__ == "__main__":
    run(main)
