"""Conformance of the local hub's modules with the official Python SDKs.

Run by tests/integration/sdk_conformance.rs against `twinlens hub --tls --mqtt-port 8883`:
the service SDK's IoTHubRegistryManager creates, reads, lists, updates and deletes a
module identity and reads, patches and replaces its twin; the device SDK's
IoTHubModuleClient connects as that module over MQTTS on 8883 (the port the SDK always
uses, trusting the hub's CA), reads its twin, reports, receives a desired patch and
answers a direct method invoked with invoke_device_module_method.
Exits non-zero, naming the step, on the first behaviour that differs from IoT Hub.
"""

import os
import threading

from azure.iot.device import IoTHubModuleClient, MethodResponse
from azure.iot.hub import IoTHubRegistryManager
from azure.iot.hub.models import CloudToDeviceMethod, Twin, TwinProperties

from conformance import check, run, wait_until

DEVICE_ID = "py-edge-device-1"
MODULE_ID = "py-module-1"



def main():
    service_cs = os.environ["TWINLENS_SERVICE_CS"]
    ca_pem = open(os.environ["REQUESTS_CA_BUNDLE"]).read()
    registry = IoTHubRegistryManager.from_connection_string(service_cs)
    registry.create_device_with_sas(DEVICE_ID, "", "", "enabled")

    module = registry.create_module_with_sas(DEVICE_ID, MODULE_ID, "", "", "")
    check(module.module_id == MODULE_ID and module.device_id == DEVICE_ID,
          "create_module_with_sas creates the module")
    key = module.authentication.symmetric_key.primary_key
    check(bool(key), "the hub generates the module's keys")
    check(registry.get_module(DEVICE_ID, MODULE_ID).etag == module.etag, "get_module reads it back")
    check([m.module_id for m in registry.get_modules(DEVICE_ID)] == [MODULE_ID], "get_modules lists it")
    updated = registry.update_module_with_sas(DEVICE_ID, MODULE_ID, "twinlens", module.etag, key,
                                              module.authentication.symmetric_key.secondary_key)
    check(updated.managed_by == "twinlens" and updated.etag != module.etag,
          "update_module_with_sas updates it with its etag")

    twin = registry.get_module_twin(DEVICE_ID, MODULE_ID)
    check(twin.module_id == MODULE_ID and twin.device_id == DEVICE_ID, "get_module_twin reads the module twin")
    patched = registry.update_module_twin(
        DEVICE_ID, MODULE_ID, Twin(tags={"role": "filter"}, properties=TwinProperties(desired={"threshold": 5})),
        twin.etag)
    check(patched.tags["role"] == "filter" and patched.properties.desired["threshold"] == 5,
          "update_module_twin merges tags and desired")
    replaced = registry.replace_module_twin(DEVICE_ID, MODULE_ID, Twin(tags={"only": True}, properties=TwinProperties(desired={"threshold": 6})))
    check(replaced.tags == {"only": True} and replaced.properties.desired["threshold"] == 6,
          "replace_module_twin replaces tags and desired")

    module_cs = f"HostName=localhost;DeviceId={DEVICE_ID};ModuleId={MODULE_ID};SharedAccessKey={key}"
    client = IoTHubModuleClient.create_from_connection_string(module_cs, server_verification_cert=ca_pem)
    desired_patches = []
    desired_received = threading.Condition()

    def on_desired(patch):
        with desired_received:
            desired_patches.append(patch)
            desired_received.notify_all()

    def on_method(request):
        payload = {"echo": request.payload, "method": request.name}
        client.send_method_response(MethodResponse.create_from_method_request(request, 200, payload))

    client.on_twin_desired_properties_patch_received = on_desired
    client.on_method_request_received = on_method
    client.connect()
    check(client.connected, "the module connects over MQTTS on 8883 with its own key")
    check(registry.get_module_twin(DEVICE_ID, MODULE_ID).connection_state == "Connected",
          "the module twin shows the module connected")

    own_twin = client.get_twin()
    check(own_twin["desired"]["threshold"] == 6, "get_twin returns the module's desired properties")
    client.patch_twin_reported_properties({"filtered": 12})
    reported = registry.get_module_twin(DEVICE_ID, MODULE_ID).properties.reported
    check(reported["filtered"] == 12, "patch_twin_reported_properties lands in the module twin")
    check("filtered" not in registry.get_twin(DEVICE_ID).properties.reported,
          "the device twin is untouched")

    registry.update_module_twin(DEVICE_ID, MODULE_ID, Twin(properties=TwinProperties(desired={"threshold": 7})), "*")
    with desired_received:
        desired_received.wait_for(lambda: any(p.get("threshold") == 7 for p in desired_patches), 15)
    check(any(p.get("threshold") == 7 for p in desired_patches), "a desired patch of the module twin reaches the module")

    method = CloudToDeviceMethod(method_name="reset", payload={"hard": True}, response_timeout_in_seconds=15)
    result = registry.invoke_device_module_method(DEVICE_ID, MODULE_ID, method)
    check(result.status == 200 and result.payload == {"echo": {"hard": True}, "method": "reset"},
          "the module answers invoke_device_module_method")

    client.shutdown()
    check(wait_until(lambda: registry.get_module_twin(DEVICE_ID, MODULE_ID).connection_state == "Disconnected", 10),
          "the module twin shows the module disconnected")
    registry.delete_module(DEVICE_ID, MODULE_ID)
    check(registry.get_modules(DEVICE_ID) == [], "delete_module deletes it")
    print("module SDK conformance: all checks passed", flush=True)


if __name__ == "__main__":
    run(main)
