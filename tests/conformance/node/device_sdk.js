'use strict';
// Conformance of the local hub with the official Node.js device SDK (azure-iot-device with
// azure-iot-device-mqtt), over MQTT (`node device_sdk.js mqtt`) or MQTT over WebSockets
// (`node device_sdk.js mqttws`).
//
// Run by tests/integration/sdk_conformance.rs against `twinlens hub --tls --http-port 443
// --mqtt-port 8883`: the device gets `HostName=localhost`, with which `Mqtt` dials
// mqtts://localhost (port 8883) and `MqttWs` dials wss://localhost:443/$iothub/websocket.
// The service side uses azure-iothub. Reads TWINLENS_SERVICE_CS; trusts the hub's CA
// through NODE_EXTRA_CA_CERTS. Prints `ok: <what>` per check; exits non-zero naming
// every failed step.
//
// The SDK connects with CleanSession=0 and, after `close()` + `open()` or a SAS token
// renewal, does not subscribe again: it relies on the hub keeping the session, as IoT
// Hub does. The script records the MQTT packets (see recordMqttConnections) to check
// that, and that the renewal really reconnected. The device announces an IoT Plug and
// Play model id (`setOptions({ modelId })`), which the SDK writes unencoded into the
// CONNECT username and the hub must put on the twin.

const {
  Steps, call, check, log, logVersions, parseConnectionString, recordMqttConnections,
  serviceConnectionString, startWatchdog, waitFor, within,
} = require('./common');

// Before the SDK loads mqtt, so that every connection it makes is recorded.
const wire = recordMqttConnections();

const { Registry, Client: ServiceClient } = require('azure-iothub');
const { Client, SharedAccessKeyAuthenticationProvider } = require('azure-iot-device');
const { Mqtt, MqttWs } = require('azure-iot-device-mqtt');
const { NoRetry, SharedAccessSignature } = require('azure-iot-common');

const TRANSPORTS = {
  mqtt: {
    Transport: Mqtt,
    url: 'mqtts://localhost',
    what: 'MQTT (mqtts://localhost, port 8883)',
  },
  mqttws: {
    Transport: MqttWs,
    url: 'wss://localhost:443/$iothub/websocket',
    what: 'MQTT over WebSockets (wss://localhost:443/$iothub/websocket)',
  },
};
const T = 10; // seconds any single call may take
const METHODS_TOPIC = '$iothub/methods/POST/#';
const DESIRED_TOPIC = '$iothub/twin/PATCH/properties/desired/#';

/** The IoT Plug and Play model the device announces. */
const MODEL_ID = 'dtmi:com:example:Thermostat;1';

async function main() {
  startWatchdog();
  logVersions();
  const transportName = process.argv[2];
  const transport = TRANSPORTS[transportName];
  if (!transport) {
    throw new Error(`usage: node device_sdk.js ${Object.keys(TRANSPORTS).join('|')}`);
  }
  const serviceCs = serviceConnectionString();
  const host = parseConnectionString(serviceCs).HostName;
  const registry = Registry.fromConnectionString(serviceCs);
  const service = ServiceClient.fromConnectionString(serviceCs);
  service.setRetryPolicy(new NoRetry()); // any error answer shows at once
  const deviceId = `node-${transportName}-1`;
  const steps = new Steps(`Node device SDK conformance over ${transportName}`);

  let client = null;
  let twin = null;
  const tokens = []; // SAS tokens the authentication provider renewed
  const desired = []; // desired-property patches the SDK handed over

  const connectionState = async () => {
    const [t] = await call(T, 'registry.getTwin', (cb) => registry.getTwin(deviceId, cb));
    return t.connectionState;
  };

  const invokeReboot = async (tag, seconds) => {
    const params = { methodName: 'reboot', payload: { tag }, responseTimeoutInSeconds: seconds };
    const [result] = await call(seconds + 5, `invokeDeviceMethod (${tag})`,
      (cb) => service.invokeDeviceMethod(deviceId, params, cb));
    const echoed = result.payload && result.payload.echo && result.payload.echo.tag === tag;
    check(result.status === 200 && echoed,
      `${tag}: the device answers a direct method` + (echoed ? '' : ` (got ${JSON.stringify(result)})`));
  };

  const pushDesired = async (tag, value, seconds) => {
    await call(T, 'registry.updateTwin', (cb) => registry.updateTwin(deviceId,
      { properties: { desired: { telemetryInterval: value } } }, '*', cb));
    const patch = await waitFor(seconds, `${tag}: the desired patch (telemetryInterval ${value}) reaches the device`,
      () => desired.find((p) => p.telemetryInterval === value));
    check(typeof patch.$version === 'number',
      `${tag}: a desired patch made with the service SDK reaches the device, with its $version`);
  };

  /** Waits for connection number `index` (0-based) to get its CONNACK and checks it. */
  const connectionAt = async (index, tag) => {
    const connection = await waitFor(T, `${tag}: the SDK opens connection ${index + 1} and gets a CONNACK`,
      () => wire.connections[index] && wire.connections[index].connack && wire.connections[index]);
    check(connection.url === transport.url, `${tag}: the SDK dials ${connection.url}`);
    check(connection.connect.clean === false, `${tag}: the SDK connects with CleanSession=0`);
    check(connection.connack.returnCode === 0,
      `${tag}: the hub accepts the CONNECT (CONNACK return code ${connection.connack.returnCode})`);
    return connection;
  };

  /** Checks the CONNACK's session-present flag of `connections`. */
  const sessionPresent = (connections, present, tag) => {
    const flags = connections.map((c) => (c.connack.sessionPresent ? 1 : 0));
    check(flags.every((f) => f === (present ? 1 : 0)),
      `${tag}: the CONNACK says session present = ${present ? 1 : 0}` +
      (flags.every((f) => f === (present ? 1 : 0)) ? '' : ` (got ${flags.join(', ')})`));
  };

  /** The expiry (`se`) of a SAS token. */
  const expiry = (token) => Number(/[?&\s]se=(\d+)/.exec(token)[1]);

  const subscribedAfter = (first) => wire.connections.slice(first).flatMap((c) => wire.subscribedOn(c));

  await steps.run('register the device', [], async () => {
    const [device] = await call(T, 'registry.create', (cb) => registry.create({ deviceId }, cb));
    const key = device.authentication.symmetricKey.primaryKey;
    check(Boolean(key), 'the device is registered with the service SDK');
    // What Client.fromConnectionString does, with the provider kept to watch its renewals.
    const provider = SharedAccessKeyAuthenticationProvider.fromConnectionString(
      `HostName=${host};DeviceId=${deviceId};SharedAccessKey=${key}`);
    provider.on('newTokenAvailable', (credentials) => tokens.push(credentials.sharedAccessSignature));
    client = Client.fromAuthenticationProvider(provider, transport.Transport);
    client.on('error', (err) => log(`note: the device client reported an error: ${err}`));
    client.on('disconnect', (err) => log(`note: the device client disconnected: ${err && err.message}`));
    // An IoT Plug and Play device announces its model before it connects.
    await within(T, 'client.setOptions', client.setOptions({ modelId: MODEL_ID }));
  });

  await steps.run('connect', ['register the device'], async () => {
    await within(T, 'client.open', client.open());
    log(`ok: the device connects over ${transport.what}`);
    await connectionAt(0, 'first connection');
    check(await connectionState() === 'Connected', 'the twin shows the device connected');
  });
  await steps.run('model id', ['connect'], async () => {
    const username = wire.connections[0].connect.username;
    check(username.includes(`&model-id=${MODEL_ID}&`),
      `the SDK announces the model id, unencoded, in the CONNECT username (${username})`);
    const [t] = await call(T, 'registry.getTwin', (cb) => registry.getTwin(deviceId, cb));
    check(t.modelId === MODEL_ID, `the twin's modelId is the model the SDK announced (got ${t.modelId})`);
  });
  await steps.run('first connection: session present', ['connect'], async () => {
    sessionPresent([wire.connections[0]], false, 'first connection (no session yet)');
  });

  await steps.run('twin GET', ['connect'], async () => {
    twin = await within(T, 'client.getTwin', client.getTwin());
    twin.on('error', (err) => log(`note: the twin reported an error: ${err}`));
    check(typeof twin.properties.desired.$version === 'number' && twin.properties.desired.$version >= 1,
      'getTwin returns the desired properties with $version');
    check(typeof twin.properties.reported.$version === 'number',
      'getTwin returns the reported properties with $version');
  });

  await steps.run('reported PATCH', ['twin GET'], async () => {
    await call(T, 'reported.update', (cb) => twin.properties.reported.update(
      { temperature: 21.5, firmware: { version: '1.2.3' } }, cb));
    const [t] = await call(T, 'registry.getTwin', (cb) => registry.getTwin(deviceId, cb));
    check(t.properties.reported.temperature === 21.5 && t.properties.reported.firmware.version === '1.2.3',
      'the reported patch lands in the twin');
  });

  await steps.run('desired push', ['twin GET'], async () => {
    twin.on('properties.desired', (patch) => desired.push(JSON.parse(JSON.stringify(patch))));
    const granted = await waitFor(T, `the hub answers the SUBSCRIBE to ${DESIRED_TOPIC}`,
      () => wire.granted(DESIRED_TOPIC) !== null && [wire.granted(DESIRED_TOPIC)]);
    check(granted[0] !== 128, `the hub grants ${DESIRED_TOPIC} (SUBACK ${granted[0]})`);
    await pushDesired('connected', 42, T);
  });

  await steps.run('direct method', ['connect'], async () => {
    client.onDeviceMethod('reboot', (request, response) => {
      response.send(200, { echo: request.payload, method: request.methodName }, (err) => {
        if (err) log(`note: sending the method response failed: ${err}`);
      });
    });
    const granted = await waitFor(T, `the hub answers the SUBSCRIBE to ${METHODS_TOPIC}`,
      () => wire.granted(METHODS_TOPIC) !== null && [wire.granted(METHODS_TOPIC)]);
    check(granted[0] !== 128, `the hub grants ${METHODS_TOPIC} (SUBACK ${granted[0]})`);
    await invokeReboot('connected', T);
  });

  // Azure IoT Explorer's route (the service SDK sends over AMQP, which the hub does not
  // serve); the device SDK must get it with its properties, and completing it empties
  // the device's queue.
  await steps.run('cloud-to-device message', ['connect'], async () => {
    const received = [];
    client.on('message', (message) => {
      received.push(message);
      client.complete(message, (err) => {
        if (err) log(`note: completing the message failed: ${err}`);
      });
    });
    const cs = parseConnectionString(serviceCs);
    const token = SharedAccessSignature.create(encodeURIComponent(host), cs.SharedAccessKeyName,
      cs.SharedAccessKey, Math.floor(Date.now() / 1000) + 3600).toString();
    const url = `https://${host}/devices/${encodeURIComponent(deviceId)}/messages/deviceBound?api-version=2021-04-12`;
    // The device subscribes when the listener is added; wait for its SUBACK first.
    const c2dTopic = `devices/${deviceId}/messages/devicebound/#`;
    const granted = await waitFor(T, `the hub answers the SUBSCRIBE to ${c2dTopic}`,
      () => wire.granted(c2dTopic) !== null && [wire.granted(c2dTopic)]);
    check(granted[0] !== 128, `the hub grants ${c2dTopic} (SUBACK ${granted[0]})`);
    const answer = await within(T, 'POST .../messages/deviceBound', fetch(url, {
      method: 'POST',
      headers: {
        Authorization: token, 'Content-Type': 'application/json', 'iothub-messageid': 'node-c2d-1',
        'iothub-correlationid': 'corr-9', 'iothub-ack': 'positive', 'iothub-app-colour': 'deep blue',
      },
      body: JSON.stringify({ blink: 2 }),
    }));
    check(answer.status === 204, `the hub queues a C2D message sent over REST (got ${answer.status})`);
    const message = await waitFor(T, 'the device SDK receives the C2D message', () => received[0]);
    check(JSON.parse(message.data.toString()).blink === 2, 'the C2D payload arrives intact');
    check(message.messageId === 'node-c2d-1' && message.correlationId === 'corr-9',
      'the C2D message and correlation ids arrive');
    check(message.properties.getValue('colour') === 'deep blue', 'the C2D application property arrives');
    await waitFor(T, 'the completed message leaves the device\'s queue', async () => {
      const [device] = await call(T, 'registry.get', (cb) => registry.get(deviceId, cb));
      return device.cloudToDeviceMessageCount === 0;
    });
    log('ok: the completed message leaves the device\'s queue');
  });

  // close() + open(): the SDK connects again with CleanSession=0 and subscribes to
  // nothing; what it subscribed to before must still be delivered.
  let reopened = -1;
  await steps.run('close() and open() again', ['connect'], async () => {
    await within(T, 'client.close', client.close());
    await waitFor(5, 'the twin shows the device disconnected after close()',
      async () => (await connectionState()) === 'Disconnected');
    log('ok: the twin shows the device disconnected after close()');
    reopened = wire.connections.length;
    await within(T, 'client.open', client.open());
    await connectionAt(reopened, 'after open()');
    check(await connectionState() === 'Connected', 'after open(): the twin shows the device connected');
  });
  await steps.run('after open(): session present', ['close() and open() again'], async () => {
    sessionPresent([wire.connections[reopened]], true, 'after open()');
  });
  // Shorter waits from here: without the kept session nothing arrives at all.
  await steps.run('after open(): direct method', ['close() and open() again', 'direct method'], async () => {
    await invokeReboot('after open()', 5);
  });
  await steps.run('after open(): desired push', ['close() and open() again', 'desired push'], async () => {
    await pushDesired('after open()', 43, 5);
  });
  await steps.run('after open(): twin GET', ['close() and open() again', 'twin GET'], async () => {
    // The response topic ($iothub/twin/res/#) was subscribed on the first connection only.
    const [hubTwin] = await call(T, 'registry.getTwin', (cb) => registry.getTwin(deviceId, cb));
    await call(5, 'twin.get', (cb) => twin.get(cb));
    check(twin.properties.desired.$version === hubTwin.properties.desired.$version,
      'after open(): twin GET is answered with the current desired properties');
  });
  await steps.run('after open(): the SDK did not subscribe again', ['close() and open() again'], async () => {
    const topics = subscribedAfter(reopened);
    check(topics.length === 0, 'after open(): the SDK sent no SUBSCRIBE (it relies on the kept session)' +
      (topics.length ? ` (got ${topics.join(', ')})` : ''));
  });

  // SAS token renewal: with a short token lifetime the authentication provider renews the
  // token at once and then every 3 s, and each renewal makes the transport disconnect and
  // connect again with the new token, CleanSession=0 and no SUBSCRIBE.
  let renewedFrom = -1;
  await steps.run('SAS token renewal', ['close() and open() again'], async () => {
    renewedFrom = wire.connections.length;
    const tokensBefore = tokens.length;
    await within(T, 'client.setOptions', client.setOptions({
      tokenRenewal: { tokenValidTimeInSeconds: 8, tokenRenewalMarginInSeconds: 5 },
    }));
    // One renewal when the options are set, one more from the renewal timer.
    await waitFor(12, 'the SDK renews its SAS token twice', () => tokens.length >= tokensBefore + 2);
    log('ok: the SDK renews its SAS token (once at setOptions, once from its timer)');
    await connectionAt(renewedFrom, 'first renewal');
    await connectionAt(renewedFrom + 1, 'second renewal');
    // Back to hour-long tokens (one last renewal) so that nothing reconnects from here.
    await within(T, 'client.setOptions', client.setOptions({
      tokenRenewal: { tokenValidTimeInSeconds: 3600, tokenRenewalMarginInSeconds: 900 },
    }));
    const hourLong = await waitFor(T, 'the SDK renews its SAS token for an hour',
      () => tokens.slice(tokensBefore).find((t) => expiry(t) > Date.now() / 1000 + 3000));
    const last = await waitFor(T, 'the SDK connects with the hour-long token and gets a CONNACK',
      () => wire.connections.find((c) => c.connect && c.connect.password === hourLong && c.connack));
    const renewed = wire.connections.slice(renewedFrom);
    check(renewed.every((c) => c.connect.clean === false && c.connack && c.connack.returnCode === 0),
      `each of the ${renewed.length} renewals connects again with CleanSession=0 and is accepted`);
    const passwords = new Set(wire.connections.slice(renewedFrom - 1).map((c) => c.connect.password));
    check(passwords.size === renewed.length + 1, 'each renewal connects with a new token');
    check(wire.connections.every((c) => c === last || c.closed), 'each renewal closed the previous connection');
    check(await connectionState() === 'Connected', 'after the renewals: the twin shows the device connected');
  });
  await steps.run('after renewal: session present', ['SAS token renewal'], async () => {
    sessionPresent(wire.connections.slice(renewedFrom), true, 'after each renewal');
  });
  await steps.run('after renewal: direct method', ['SAS token renewal', 'direct method'], async () => {
    await invokeReboot('after renewal', 5);
  });
  await steps.run('after renewal: desired push', ['SAS token renewal', 'desired push'], async () => {
    await pushDesired('after renewal', 44, 5);
  });
  await steps.run('after renewal: the SDK did not subscribe again', ['SAS token renewal'], async () => {
    const topics = subscribedAfter(renewedFrom);
    check(topics.length === 0, 'after renewal: the SDK sent no SUBSCRIBE (it relies on the kept session)' +
      (topics.length ? ` (got ${topics.join(', ')})` : ''));
  });

  await steps.run('close', ['connect'], async () => {
    await within(T, 'client.close', client.close());
    await waitFor(5, 'the twin shows the device disconnected after close()',
      async () => (await connectionState()) === 'Disconnected');
    log('ok: the twin shows the device disconnected after close()');
  });
  steps.finish();
}

main().catch((err) => {
  process.stderr.write(`FAILED: ${err && err.stack}\n`);
  process.exit(1);
});
