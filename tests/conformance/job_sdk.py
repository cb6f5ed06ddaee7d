"""Conformance of the local hub's jobs with the official Python service SDK.

Run by tests/integration/sdk_conformance.rs against `twinlens hub --tls --mqtt-port 8883`:
the service SDK's IoTHubJobManager schedules a twin-update job and a direct-method job
over two devices (one connected with the device SDK, answering the method), polls each
to `completed`, and reads the per-device results with a `devices.jobs` query through
IoTHubRegistryManager; a job scheduled for later is cancelled; a second job beyond the
hub's one active job is refused.
Exits non-zero, naming the step, on the first behaviour that differs from IoT Hub.
"""

import datetime
import os
import time
import uuid

from azure.iot.device import IoTHubDeviceClient, MethodResponse
from azure.iot.hub import IoTHubJobManager, IoTHubRegistryManager
from azure.iot.hub.models import (CloudToDeviceMethod, JobRequest, QuerySpecification, Twin,
                                  TwinProperties)
from msrest.exceptions import HttpOperationError

from conformance import check, run

DEVICES = ["py-job-device-1", "py-job-device-2"]


def poll_until_finished(jobs, job_id, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        job = jobs.get_scheduled_job(job_id)
        if job.status in ("completed", "failed", "cancelled") or time.monotonic() > deadline:
            return job
        time.sleep(0.2)


def device_job_rows(registry, job_id):
    query = QuerySpecification(query=f"SELECT * FROM devices.jobs WHERE devices.jobs.jobId = '{job_id}'")
    result = registry.query_iot_hub(query)
    check(result.type == "deviceJob", "a devices.jobs query answers rows of type deviceJob")
    return result.items


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def main():
    service_cs = os.environ["TWINLENS_SERVICE_CS"]
    ca_pem = open(os.environ["REQUESTS_CA_BUNDLE"]).read()
    registry = IoTHubRegistryManager.from_connection_string(service_cs)
    jobs = IoTHubJobManager.from_connection_string(service_cs)
    for device_id in DEVICES:
        registry.create_device_with_sas(device_id, "", "", "enabled")
    key = registry.get_device(DEVICES[0]).authentication.symmetric_key.primary_key

    # As the SDK's twin-update sample sends it: no maxExecutionTimeInSeconds.
    twin_job_id = f"twinJob-{uuid.uuid4()}"
    request = JobRequest(
        job_id=twin_job_id, type="scheduleUpdateTwin", start_time=now_iso(),
        update_twin=Twin(etag="*", properties=TwinProperties(desired={"temperature": 98.6})),
        query_condition="deviceId IN ['py-job-device-1', 'py-job-device-2']")
    created = jobs.create_scheduled_job(twin_job_id, request)
    check(created.job_id == twin_job_id and created.status == "queued",
          "create_scheduled_job accepts a twin-update job as queued")
    finished = poll_until_finished(jobs, twin_job_id)
    check(finished.status == "completed", "get_scheduled_job polls the twin job to completed")
    statistics = finished.device_job_statistics
    check(statistics.device_count == 2 and statistics.succeeded_count == 2,
          "the twin job's statistics count both devices as succeeded")
    for device_id in DEVICES:
        desired = registry.get_twin(device_id).properties.desired
        check(desired["temperature"] == 98.6, f"the twin job set {device_id}'s desired temperature")
    rows = device_job_rows(registry, twin_job_id)
    check(sorted(row.device_id for row in rows) == DEVICES,
          "devices.jobs has one row per device of the twin job")

    client = IoTHubDeviceClient.create_from_connection_string(
        f"HostName=localhost;DeviceId={DEVICES[0]};SharedAccessKey={key}", server_verification_cert=ca_pem)

    def on_method(method_request):
        payload = {"echo": method_request.payload}
        client.send_method_response(MethodResponse.create_from_method_request(method_request, 200, payload))

    client.on_method_request_received = on_method
    client.connect()

    # As the SDK's method sample sends it, on the connected device only.
    method_job_id = f"methodJob-{uuid.uuid4()}"
    request = JobRequest(
        job_id=method_job_id, type="scheduleDeviceMethod", start_time=now_iso(),
        cloud_to_device_method=CloudToDeviceMethod(
            method_name="test_method", payload={"key": "value"},
            response_timeout_in_seconds=30, connect_timeout_in_seconds=15),
        max_execution_time_in_seconds=60, query_condition=f"deviceId = '{DEVICES[0]}'")
    created = jobs.create_scheduled_job(method_job_id, request)
    check(created.status == "queued", "create_scheduled_job accepts a method job as queued")
    finished = poll_until_finished(jobs, method_job_id)
    check(finished.status == "completed" and finished.device_job_statistics.succeeded_count == 1,
          "get_scheduled_job polls the method job to completed")
    check(finished.cloud_to_device_method.method_name == "test_method",
          "the method job echoes its cloudToDeviceMethod")
    rows = device_job_rows(registry, method_job_id)
    check([row.device_id for row in rows] == [DEVICES[0]], "devices.jobs has the method job's device")
    client.shutdown()

    # A job scheduled for later counts as active: another is refused until it is
    # cancelled.
    later_id = f"laterJob-{uuid.uuid4()}"
    later = JobRequest(
        job_id=later_id, type="scheduleUpdateTwin",
        start_time=(datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).isoformat(),
        update_twin=Twin(etag="*", tags={"wave": 2}), query_condition="*",
        max_execution_time_in_seconds=600)
    jobs.create_scheduled_job(later_id, later)
    try:
        refused_id = f"refused-{uuid.uuid4()}"
        later.job_id = refused_id
        jobs.create_scheduled_job(refused_id, later)
        refused_status = None
    except HttpOperationError as error:
        refused_status = error.response.status_code
    check(refused_status == 429, "a second active job is throttled with 429")
    cancelled = jobs.cancel_scheduled_job(later_id)
    check(cancelled.status == "cancelled", "cancel_scheduled_job cancels the scheduled job")
    check(jobs.get_scheduled_job(later_id).status == "cancelled", "get_scheduled_job shows it cancelled")
    check("wave" not in (registry.get_twin(DEVICES[0]).tags or {}), "a cancelled job changes nothing")
    print("job SDK conformance: all checks passed", flush=True)


if __name__ == "__main__":
    run(main)
