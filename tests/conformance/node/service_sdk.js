'use strict';
// Conformance of the local hub with the official Node.js service SDK (azure-iothub).
//
// Run by tests/integration/sdk_conformance.rs against `twinlens hub --tls --http-port 443
// --mqtt-port 8883` (azure-iothub dials HostName on 443; the device that answers the
// direct methods uses azure-iot-device-mqtt, which dials 8883). Reads the hub's service
// connection string from TWINLENS_SERVICE_CS and trusts its CA through
// NODE_EXTRA_CA_CERTS. Prints `ok: <what>` per check; exits non-zero naming every failed
// step.

const {
  Steps, call, check, describe, expectError, log, logVersions, recordMqttConnections,
  serviceConnectionString, startWatchdog, waitFor, within,
} = require('./common');

// Before the device SDK loads mqtt, so that its SUBSCRIBE and SUBACK can be waited for.
const wire = recordMqttConnections();

const { Registry, Client: ServiceClient } = require('azure-iothub');
const { Client: DeviceClient } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');
const { NoRetry } = require('azure-iot-common');

const T = 15; // seconds any single service call may take

async function main() {
  startWatchdog();
  logVersions();
  const serviceCs = serviceConnectionString();
  const registry = Registry.fromConnectionString(serviceCs);
  const host = serviceCs.match(/HostName=([^;]+)/)[1];
  const steps = new Steps('Node service SDK conformance');
  const keys = {};

  await steps.run('device CRUD', [], async () => {
    const [created] = await call(T, 'registry.create', (cb) => registry.create({ deviceId: 'node-dev-1' }, cb));
    check(created.deviceId === 'node-dev-1', 'registry.create creates the device');
    const sas = created.authentication.symmetricKey;
    check(Boolean(sas.primaryKey) && Boolean(sas.secondaryKey) && sas.primaryKey !== sas.secondaryKey,
      'the hub generated both keys');
    check(created.status === 'enabled' && Boolean(created.etag), 'the new device is enabled and has an etag');
    keys['node-dev-1'] = sas.primaryKey;

    await expectError('registry.create of an existing device', 'DeviceAlreadyExistsError', 409,
      () => call(T, 'registry.create again', (cb) => registry.create({ deviceId: 'node-dev-1' }, cb)));

    const [fetched] = await call(T, 'registry.get', (cb) => registry.get('node-dev-1', cb));
    check(fetched.deviceId === 'node-dev-1' && fetched.authentication.symmetricKey.primaryKey === sas.primaryKey,
      'registry.get returns the device with its keys');

    fetched.status = 'disabled';
    const [updated] = await call(T, 'registry.update', (cb) => registry.update(fetched, cb));
    check(updated.status === 'disabled', 'registry.update changes the status');
    check(updated.authentication.symmetricKey.primaryKey === sas.primaryKey, 'registry.update keeps the keys');
    updated.status = 'enabled';
    const [enabled] = await call(T, 'registry.update back', (cb) => registry.update(updated, cb));
    check(enabled.status === 'enabled', 'registry.update enables the device again');
  });

  await steps.run('registry.list', ['device CRUD'], async () => {
    await call(T, 'registry.create node-dev-2', (cb) => registry.create({ deviceId: 'node-dev-2' }, cb));
    const [list] = await call(T, 'registry.list', (cb) => registry.list(cb));
    const ids = list.map((d) => d.deviceId).sort();
    const both = ids.includes('node-dev-1') && ids.includes('node-dev-2');
    check(both, 'registry.list lists the devices' + (both ? '' : ` (got ${JSON.stringify(ids)})`));
    const listed = list.find((d) => d.deviceId === 'node-dev-1');
    check(listed.authentication.symmetricKey.primaryKey === keys['node-dev-1'] && listed.status === 'enabled',
      'registry.list returns the device identities with their keys');
  });

  await steps.run('registry.delete', ['device CRUD'], async () => {
    await call(T, 'registry.create node-dev-3', (cb) => registry.create({ deviceId: 'node-dev-3' }, cb));
    await call(T, 'registry.delete', (cb) => registry.delete('node-dev-3', cb));
    const [twins] = await call(T, 'query after delete',
      (cb) => registry.createQuery('SELECT * FROM devices').nextAsTwin(cb));
    check(!twins.some((t) => t.deviceId === 'node-dev-3'), 'registry.delete deletes the device');
  });
  await steps.run('registry.get of a deleted device', ['registry.delete'], async () => {
    await expectError('registry.get after registry.delete', 'DeviceNotFoundError', 404,
      () => call(T, 'registry.get deleted', (cb) => registry.get('node-dev-3', cb)));
  });
  await steps.run('registry.delete of an unknown device', [], async () => {
    await expectError('registry.delete of an unknown device', 'DeviceNotFoundError', 404,
      () => call(T, 'registry.delete unknown', (cb) => registry.delete('nobody', cb)));
  });

  await steps.run('twins with etags', ['device CRUD'], async () => {
    const [twin] = await call(T, 'registry.getTwin', (cb) => registry.getTwin('node-dev-1', cb));
    check(twin.deviceId === 'node-dev-1' && Boolean(twin.etag), 'registry.getTwin returns the twin with an etag');
    check(twin.properties.desired.$version === 1, 'a fresh twin has desired $version 1');

    const patch = { tags: { site: { city: 'Oslo' } }, properties: { desired: { interval: 30 } } };
    const [updated] = await call(T, 'registry.updateTwin',
      (cb) => registry.updateTwin('node-dev-1', patch, twin.etag, cb));
    check(updated.tags.site.city === 'Oslo', 'registry.updateTwin with the etag merges tags');
    check(updated.properties.desired.interval === 30, 'registry.updateTwin merges desired properties');
    check(updated.etag && updated.etag !== twin.etag, 'registry.updateTwin changes the etag');

    await expectError('registry.updateTwin with a stale etag', 'InvalidEtagError', 412,
      () => call(T, 'registry.updateTwin stale', (cb) => registry.updateTwin('node-dev-1', patch, twin.etag, cb)));

    const [forced] = await call(T, 'registry.updateTwin *',
      (cb) => registry.updateTwin('node-dev-1', { tags: { owner: 'ops' } }, '*', cb));
    check(forced.tags.owner === 'ops' && forced.tags.site.city === 'Oslo', 'registry.updateTwin with etag * merges');

    // The Twin object: get() refreshes it, update() sends its own etag.
    const [fresh] = await call(T, 'twin.get', (cb) => twin.get(cb));
    check(fresh.etag === forced.etag && fresh.tags.owner === 'ops', 'twin.get refreshes the twin and its etag');
    const [viaTwin] = await call(T, 'twin.update', (cb) => fresh.update({ tags: { floor: 3 } }, cb));
    check(viaTwin.tags.floor === 3, 'twin.update with the twin\'s etag merges');
  });
  await steps.run('registry.getTwin of an unknown device', [], async () => {
    await expectError('registry.getTwin of an unknown device', 'DeviceNotFoundError', 404,
      () => call(T, 'registry.getTwin unknown', (cb) => registry.getTwin('nobody', cb)));
  });

  await steps.run('query paging', [], async () => {
    for (let n = 0; n < 12; n++) {
      const id = `node-page-${String(n).padStart(2, '0')}`;
      await call(T, `registry.create ${id}`, (cb) => registry.create({ deviceId: id }, cb));
    }
    const query = registry.createQuery("SELECT * FROM devices WHERE STARTSWITH(deviceId, 'node-page-')", 5);
    const seen = [];
    let pages = 0;
    while (query.hasMoreResults && pages < 10) {
      const [twins, response] = await call(T, `query page ${pages + 1}`, (cb) => query.nextAsTwin(cb));
      pages += 1;
      check(Array.isArray(twins) && twins.every((t) => t.deviceId && t.properties),
        `query page ${pages} holds ${twins && twins.length} twins`);
      const itemType = response.headers['x-ms-item-type'];
      check(itemType === 'twin',
        `query page ${pages} has item type twin` + (itemType === 'twin' ? '' : ` (got ${itemType})`));
      seen.push(...twins.map((t) => t.deviceId));
    }
    check(pages === 3, `12 twins at 5 a page come in 3 pages (got ${pages})`);
    const expected = Array.from({ length: 12 }, (_, n) => `node-page-${String(n).padStart(2, '0')}`);
    check(JSON.stringify(seen.slice().sort()) === JSON.stringify(expected), 'nextAsTwin pages return every twin once');
    check(!query.hasMoreResults, 'the last page has no continuation token');
  });

  const service = ServiceClient.fromConnectionString(serviceCs);
  // Without retries, so that any error answer shows at once.
  service.setRetryPolicy(new NoRetry());
  const params = { methodName: 'reboot', payload: { delay: 3 }, responseTimeoutInSeconds: 10 };

  await steps.run('direct methods', ['device CRUD'], async () => {
    const device = DeviceClient.fromConnectionString(
      `HostName=${host};DeviceId=node-dev-1;SharedAccessKey=${keys['node-dev-1']}`, Mqtt);
    device.on('error', (err) => log(`note: device client error: ${err}`));
    try {
      await within(T, 'device.open', device.open());
      device.onDeviceMethod('reboot', (request, response) => {
        response.send(200, { echo: request.payload, method: request.methodName }, () => {});
      });
      const topic = '$iothub/methods/POST/#';
      const granted = await waitFor(T, `the hub answers the SUBSCRIBE to ${topic}`,
        () => wire.granted(topic) !== null && [wire.granted(topic)]);
      check(granted[0] !== 128, `the hub grants ${topic} (SUBACK ${granted[0]})`);

      const [result, response] = await call(T, 'invokeDeviceMethod',
        (cb) => service.invokeDeviceMethod('node-dev-1', params, cb));
      check(response.statusCode === 200 && result.status === 200,
        'Client.invokeDeviceMethod reaches the device and returns its status');
      const payload = JSON.stringify(result.payload);
      check(payload === JSON.stringify({ echo: { delay: 3 }, method: 'reboot' }),
        'the method payload round-trips' + (result.payload && result.payload.method ? '' : ` (got ${payload})`));
    } finally {
      await within(T, 'device.close', device.close()).catch(() => {});
    }
  });

  await steps.run('direct method on an unknown device', [], async () => {
    // Azure's methods route answers errors in the form {"Message":"{\"errorCode\":404001,...}"},
    // which azure-iothub turns into a plain Error (only the registry form
    // "ErrorCode:DeviceNotFound;..." gives a DeviceNotFoundError): either is accepted.
    let err = null;
    await call(T, 'invokeDeviceMethod unknown', (cb) => service.invokeDeviceMethod('nobody', params, cb))
      .catch((caught) => { err = caught; });
    check(err !== null, 'invokeDeviceMethod on an unknown device fails');
    const status = err.response && err.response.statusCode;
    const named = /DeviceNotFound|404001/.test(String(err.responseBody));
    check(status === 404 && named && ['Error', 'DeviceNotFoundError'].includes(err.constructor.name),
      'invokeDeviceMethod on an unknown device answers HTTP 404 naming DeviceNotFound' +
      (status === 404 && named ? '' : ` (got ${describe(err)})`));
  });

  await steps.run('modules and module twins', [], async () => {
    await call(T, 'registry.create node-edge-1', (cb) => registry.create({ deviceId: 'node-edge-1' }, cb));
    // addModule sends empty keys, as it does to Azure, and reads the generated ones back.
    await call(T, 'registry.addModule', (cb) => registry.addModule({ deviceId: 'node-edge-1', moduleId: 'filter' }, cb));
    const [module] = await call(T, 'registry.getModule', (cb) => registry.getModule('node-edge-1', 'filter', cb));
    const moduleKeys = module.authentication.symmetricKey;
    check(module.moduleId === 'filter' && Boolean(moduleKeys.primaryKey) && Boolean(moduleKeys.secondaryKey),
      'registry.addModule creates the module with generated keys');
    const [modules] = await call(T, 'registry.getModulesOnDevice',
      (cb) => registry.getModulesOnDevice('node-edge-1', cb));
    check(modules.length === 1 && modules[0].moduleId === 'filter', 'registry.getModulesOnDevice lists it');
    module.managedBy = 'node';
    const [updated] = await call(T, 'registry.updateModule', (cb) => registry.updateModule(module, true, cb));
    check(updated.managedBy === 'node' && updated.etag !== module.etag, 'registry.updateModule updates it');
    const [twin] = await call(T, 'registry.getModuleTwin', (cb) => registry.getModuleTwin('node-edge-1', 'filter', cb));
    check(twin.moduleId === 'filter' && Boolean(twin.etag), 'registry.getModuleTwin returns the module twin');
    const [patched] = await call(T, 'registry.updateModuleTwin', (cb) => registry.updateModuleTwin(
      'node-edge-1', 'filter', { properties: { desired: { rate: 4 } } }, twin.etag, cb));
    check(patched.properties.desired.rate === 4, 'registry.updateModuleTwin merges desired properties');
    await call(T, 'registry.removeModule', (cb) => registry.removeModule('node-edge-1', 'filter', cb));
    const [left] = await call(T, 'registry.getModulesOnDevice after remove',
      (cb) => registry.getModulesOnDevice('node-edge-1', cb));
    check(left.length === 0, 'registry.removeModule deletes it');
  });

  await steps.run('direct method on a device that is not connected', [], async () => {
    await call(T, 'registry.create node-offline', (cb) => registry.create({ deviceId: 'node-offline' }, cb));
    // Azure answers 404 with errorCode 404103 (DeviceNotOnline), a plain Error in azure-iothub.
    const offline = await expectError('invokeDeviceMethod on a device that is not connected', 'Error', 404,
      () => call(T, 'invokeDeviceMethod offline', (cb) => service.invokeDeviceMethod('node-offline', params, cb)));
    const named = /DeviceNotOnline|404103/.test(String(offline.responseBody));
    check(named, 'the answer names DeviceNotOnline' + (named ? '' : ` (got ${offline.responseBody})`));
  });

  steps.finish();
}

main().catch((err) => {
  process.stderr.write(`FAILED: ${err && err.stack}\n`);
  process.exit(1);
});
