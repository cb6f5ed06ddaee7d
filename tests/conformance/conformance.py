"""What every Python conformance script shares: a named check that prints its step,
waiting for a condition, the hub a test runs against with a device registered on it, and
running the script's main so that the first failure exits non-zero, naming its step."""

import os
import sys
import time

from azure.iot.hub import IoTHubRegistryManager


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    print(f"ok: {what}", flush=True)


def wait_until(condition, timeout):
    """Polls `condition` until it holds or `timeout` seconds pass; returns the last result."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def hub_with_device(device_id):
    """The hub of TWINLENS_SERVICE_CS with `device_id` registered on it: the service
    connection string, the hub's CA (PEM), a registry manager, and the device's
    connection string."""
    service_cs = os.environ["TWINLENS_SERVICE_CS"]
    ca_pem = open(os.environ["REQUESTS_CA_BUNDLE"]).read()
    registry = IoTHubRegistryManager.from_connection_string(service_cs)
    device = registry.create_device_with_sas(device_id, "", "", "enabled")
    key = device.authentication.symmetric_key.primary_key
    device_cs = f"HostName=localhost;DeviceId={device_id};SharedAccessKey={key}"
    return service_cs, ca_pem, registry, device_cs


def run(main):
    try:
        main()
    except Exception as error:  # report any failure with its step, then fail the test
        print(f"FAILED: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        sys.exit(1)
