"""Conformance of the local hub with the IoT Plug and Play flow of the official Python SDKs.

Run by tests/integration/sdk_conformance.rs against `twinlens hub --tls --mqtt-port 8883`.
The device is written like the SDK's Plug and Play sample (temp_controller_with_thermostats):
IoTHubDeviceClient with product_info=<model id>, reported properties and acknowledgements
built the way the sample's pnp_helper builds them (component key first, "__t": "c", the
{"value", "ac", "av", "ad"} envelope answering the desired $version), component telemetry
with "$.sub", and component commands as "<component>*<command>" methods. The service side
uses the Python service SDK's DigitalTwinClient and IoTHubRegistryManager.
Exits non-zero, naming the step, on the first behaviour that differs from IoT Hub.
"""

import json
import threading

from azure.iot.device import IoTHubDeviceClient, Message, MethodResponse
from azure.iot.hub import DigitalTwinClient
from azure.iot.hub.models import QuerySpecification

from conformance import check, hub_with_device, run, wait_until

DEVICE_ID = "py-pnp-device-1"
MODEL_ID = "dtmi:com:example:TemperatureController;2"


# The pnp_helper functions of the SDK's Plug and Play samples, as the samples write them.
def create_telemetry(telemetry_msg, component_name=None):
    msg = Message(json.dumps(telemetry_msg))
    msg.content_encoding = "utf-8"
    msg.content_type = "application/json"
    if component_name:
        msg.custom_properties["$.sub"] = component_name
    return msg


def create_reported_properties(component_name=None, **prop_kwargs):
    if component_name:
        prop_dict = {component_name: {}}
        for prop in prop_kwargs:
            prop_dict[component_name][prop] = prop_kwargs[prop]
        prop_dict[component_name]["__t"] = "c"
        return prop_dict
    return dict(prop_kwargs)


def create_reported_properties_from_desired(patch):
    ignore_keys = ["__t", "$version"]
    component_prefix = list(patch.keys())[0]
    values = patch[component_prefix]
    version = patch["$version"]
    inner_dict = {}
    for prop_name, prop_value in values.items():
        if prop_name in ignore_keys:
            continue
        inner_dict["ac"] = 200
        inner_dict["ad"] = "Successfully executed patch"
        inner_dict["av"] = version
        inner_dict["value"] = prop_value
        values[prop_name] = inner_dict
    return {component_prefix: values}


def main():
    service_cs, ca_pem, registry, device_cs = hub_with_device(DEVICE_ID)

    client = IoTHubDeviceClient.create_from_connection_string(
        device_cs, product_info=MODEL_ID, server_verification_cert=ca_pem)
    patches = []
    acknowledged = threading.Event()

    def on_desired(patch):
        patches.append(patch)
        client.patch_twin_reported_properties(create_reported_properties_from_desired(patch))
        acknowledged.set()

    def on_method(request):
        if request.name == "thermostat1*getMaxMinReport":
            payload = {"maxTemp": 25.3, "minTemp": 18.1, "avgTemp": 21.0,
                       "startTime": request.payload, "endTime": "2026-12-01T10:00:00Z"}
            client.send_method_response(MethodResponse.create_from_method_request(request, 200, payload))
        elif request.name == "reboot":
            client.send_method_response(MethodResponse.create_from_method_request(
                request, 200, {"result": True, "data": f"rebooting in {request.payload} s"}))
        else:
            client.send_method_response(MethodResponse.create_from_method_request(
                request, 404, {"result": False, "data": "unknown method"}))

    client.on_twin_desired_properties_patch_received = on_desired
    client.on_method_request_received = on_method
    client.connect()
    try:
        client.patch_twin_reported_properties(create_reported_properties(serialNumber="SN-PY-1"))
        client.patch_twin_reported_properties(
            create_reported_properties("thermostat1", maxTempSinceLastReboot=25.3))
        client.send_message(create_telemetry({"temperature": 21.5}, "thermostat1"))

        # The SDK's Twin model has no modelId field; a query by model finds the device.
        found = registry.query_iot_hub(
            QuerySpecification(query=f"SELECT * FROM devices WHERE modelId = '{MODEL_ID}'")).items
        check([twin.device_id for twin in found] == [DEVICE_ID],
              "the twin's modelId is the product_info model id, found by a modelId query")

        digital_twins = DigitalTwinClient.from_connection_string(service_cs)
        digital_twins.update_digital_twin(
            DEVICE_ID, [{"op": "add", "path": "/thermostat1/targetTemperature", "value": 23.2}])
        check(acknowledged.wait(15), "the device receives the component patch from update_digital_twin")
        check(list(patches[0].keys())[0] == "thermostat1" and patches[0]["thermostat1"].get("__t") == "c",
              f"the desired patch names the component first, marked as one ({patches[0]})")

        def acknowledged_in_digital_twin():
            digital = digital_twins.get_digital_twin(DEVICE_ID)
            target = digital.get("thermostat1", {}).get("$metadata", {}).get("targetTemperature", {})
            return target.get("ackCode") == 200 and target.get("ackVersion") == target.get("desiredVersion")

        check(wait_until(acknowledged_in_digital_twin, 15),
              "get_digital_twin shows the acknowledgement of the current desired version")
        digital = digital_twins.get_digital_twin(DEVICE_ID)
        check(digital["$dtId"] == DEVICE_ID, "get_digital_twin names the device in $dtId")
        check(digital["$metadata"]["$model"] == MODEL_ID, "get_digital_twin gives the model in $metadata.$model")
        thermostat = digital["thermostat1"]
        check(thermostat["targetTemperature"] == 23.2, "the component's writable property has the acknowledged value")
        metadata = thermostat["$metadata"]["targetTemperature"]
        check(metadata["desiredValue"] == 23.2 and metadata["ackDescription"] == "Successfully executed patch",
              f"the property's metadata holds desired value and ack description ({metadata})")
        check(thermostat["maxTempSinceLastReboot"] == 25.3, "a read-only component property is in the component")
        check(digital["serialNumber"] == "SN-PY-1", "a default-component property is at the root")

        raw = digital_twins.protocol.digital_twin.invoke_component_command(
            DEVICE_ID, "thermostat1", "getMaxMinReport", "2026-12-01T00:00:00Z",
            response_timeout_in_seconds=10, raw=True)
        check(raw.output["maxTemp"] == 25.3 and raw.output["startTime"] == "2026-12-01T00:00:00Z",
              f"invoke_component_command reaches thermostat1*getMaxMinReport ({raw.output})")
        check(raw.headers["x-ms-command-statuscode"] == 200, "the device's status is in x-ms-command-statuscode")
        result = digital_twins.invoke_command(DEVICE_ID, "reboot", 5)
        check(result == {"result": True, "data": "rebooting in 5 s"}, f"invoke_command reaches reboot ({result})")
        unknown = digital_twins.protocol.digital_twin.invoke_root_level_command(
            DEVICE_ID, "selfDestruct", {}, raw=True)
        check(unknown.headers["x-ms-command-statuscode"] == 404,
              "a command the device does not know answers HTTP 200 with the device's 404")
    finally:
        client.shutdown()
        registry.delete_device(DEVICE_ID)


if __name__ == "__main__":
    run(main)
