"""Conformance of the local hub with the official Python device SDK (azure-iot-device).

Run by tests/integration/sdk_conformance.rs against `twinlens hub --tls --mqtt-port 8883`:
the device connects over MQTTS on 8883 (the port the SDK always uses) and trusts the
hub's CA as `server_verification_cert`; the service side uses the Python service SDK.
With TWINLENS_DEVICE_WEBSOCKETS=1 (against `twinlens hub --tls --http-port 443`) the
device connects with `websockets=True`, i.e. MQTT over WebSockets on
wss://localhost:443/$iothub/websocket, the port that SDK always dials for it.
Exits non-zero, naming the step, on the first behaviour that differs from IoT Hub.
"""

import base64
import hashlib
import hmac
import json
import os
import threading
import time
import urllib.parse

import requests
from azure.iot.device import IoTHubDeviceClient, Message, MethodResponse
from azure.iot.hub.models import CloudToDeviceMethod, Twin, TwinProperties

from conformance import check, hub_with_device, run

WEBSOCKETS = os.environ.get("TWINLENS_DEVICE_WEBSOCKETS") == "1"
DEVICE_ID = "py-ws-device-1" if WEBSOCKETS else "py-device-1"
ENDPOINT = "MQTT over WebSockets on 443" if WEBSOCKETS else "MQTTS on 8883"



def service_token(service_cs):
    parts = dict(part.split("=", 1) for part in service_cs.split(";"))
    expiry = int(time.time()) + 3600
    resource = urllib.parse.quote(parts["HostName"], safe="")
    signed = hmac.new(base64.b64decode(parts["SharedAccessKey"]), f"{resource}\n{expiry}".encode(), hashlib.sha256)
    signature = urllib.parse.quote(base64.b64encode(signed.digest()), safe="")
    return parts["HostName"], f"SharedAccessSignature sr={resource}&sig={signature}&se={expiry}&skn={parts['SharedAccessKeyName']}"


def main():
    service_cs, ca_pem, registry, device_cs = hub_with_device(DEVICE_ID)

    client = IoTHubDeviceClient.create_from_connection_string(
        device_cs, server_verification_cert=ca_pem, websockets=WEBSOCKETS)
    desired_patches = []
    desired_received = threading.Condition()

    def on_desired(patch):
        with desired_received:
            desired_patches.append(patch)
            desired_received.notify_all()

    def wait_for_desired(key, timeout):
        # The SDK may first hand over a resync of the whole desired document.
        with desired_received:
            desired_received.wait_for(lambda: any(key in p for p in desired_patches), timeout)
            return next((p for p in desired_patches if key in p), None)

    def on_method(request):
        payload = {"echo": request.payload, "method": request.name}
        client.send_method_response(MethodResponse.create_from_method_request(request, 200, payload))

    c2d_messages = []
    c2d_received = threading.Condition()

    def on_c2d(message):
        with c2d_received:
            c2d_messages.append(message)
            c2d_received.notify_all()

    client.on_twin_desired_properties_patch_received = on_desired
    client.on_method_request_received = on_method
    client.on_message_received = on_c2d
    client.connect()
    check(client.connected, f"the device connects over {ENDPOINT}")
    check(registry.get_twin(DEVICE_ID).connection_state == "Connected", "the twin shows the device connected")

    twin = client.get_twin()
    check("desired" in twin and "reported" in twin, "get_twin returns desired and reported")
    check(twin["desired"]["$version"] >= 1, "get_twin carries the desired $version")

    client.patch_twin_reported_properties({"temperature": 21.5, "firmware": {"version": "1.2.3"}})
    reported = registry.get_twin(DEVICE_ID).properties.reported
    check(reported["temperature"] == 21.5 and reported["firmware"]["version"] == "1.2.3",
          "patch_twin_reported_properties lands in the twin")

    registry.update_twin(DEVICE_ID, Twin(properties=TwinProperties(desired={"telemetryInterval": 42})), "*")
    patch = wait_for_desired("telemetryInterval", 15)
    check(patch is not None, "a desired patch made with the service SDK reaches the device")
    check(patch["telemetryInterval"] == 42 and "$version" in patch, "the desired patch carries the value and $version")

    method = CloudToDeviceMethod(method_name="reboot", payload={"delay": 3}, response_timeout_in_seconds=15)
    result = registry.invoke_device_method(DEVICE_ID, method)
    check(result.status == 200, "the device answers a direct method invoked with the service SDK")
    check(result.payload == {"echo": {"delay": 3}, "method": "reboot"}, "the method payload round-trips")

    message = Message(json.dumps({"temperature": 22.0}), content_encoding="utf-8", content_type="application/json")
    message.custom_properties["unit"] = "celsius"
    client.send_message(message)
    host, token = service_token(service_cs)
    telemetry = requests.get(f"https://{host}/twinlens/devices/{DEVICE_ID}/telemetry",
                             headers={"Authorization": token}, timeout=10).json()
    check(telemetry["count"] == 1, "send_message delivers one telemetry message")
    last = telemetry["messages"][-1]
    check(json.loads(last["body"]) == {"temperature": 22.0}, "the telemetry body arrives intact")
    check(["$.ct", "application/json"] in last["properties"] and ["unit", "celsius"] in last["properties"],
          "the telemetry properties arrive")

    # Cloud-to-device over the service REST route Azure IoT Explorer uses.
    sent = requests.post(f"https://{host}/devices/{DEVICE_ID}/messages/deviceBound?api-version=2021-04-12",
                         data=json.dumps({"command": "blink", "times": 3}).encode(),
                         headers={"Authorization": token, "Content-Type": "application/json",
                                  "iothub-messageid": "c2d-1", "iothub-correlationid": "corr-1",
                                  "iothub-contenttype": "application/json", "iothub-contentencoding": "utf-8",
                                  "iothub-ack": "full", "iothub-app-led": "red green",
                                  "iothub-app-path": "a/b&c=d"},
                         timeout=10)
    check(sent.status_code == 204 and sent.content == b"", "a C2D message sent over REST is accepted with 204")
    with c2d_received:
        c2d_received.wait_for(lambda: c2d_messages, 15)
    check(len(c2d_messages) == 1, "on_message_received gets the C2D message")
    received = c2d_messages[0]
    check(json.loads(received.data) == {"command": "blink", "times": 3}, "the C2D payload arrives intact")
    check(received.message_id == "c2d-1" and received.correlation_id == "corr-1",
          "the C2D message and correlation ids arrive")
    check(received.content_type == "application/json" and received.content_encoding == "utf-8",
          "the C2D content type and encoding arrive")
    check(received.ack == "full", "the C2D ack mode arrives")
    check(received.custom_properties == {"led": "red green", "path": "a/b&c=d"},
          "the C2D application properties arrive intact")
    for _ in range(50):
        if registry.get_device(DEVICE_ID).cloud_to_device_message_count == 0:
            break
        time.sleep(0.1)
    check(registry.get_device(DEVICE_ID).cloud_to_device_message_count == 0,
          "the acknowledged C2D message leaves the device's queue")

    client.shutdown()
    time.sleep(0.5)
    check(registry.get_twin(DEVICE_ID).connection_state == "Disconnected", "the twin shows the device disconnected")
    print("device SDK conformance: all checks passed", flush=True)


if __name__ == "__main__":
    run(main)
