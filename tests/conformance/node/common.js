'use strict';
// Shared helpers of the Node.js SDK conformance scripts (service_sdk.js, device_sdk.js).
//
// Each script runs its steps in order. A step prints `ok: <what>` for every check that
// holds; the first check of a step that fails ends that step (printed as
// `FAILED: <step>: <why>`), the steps that need it are skipped, and the script exits
// non-zero naming every failed step. Every wait is bounded: each SDK call by its own
// timeout, and the whole script by a watchdog.

const { EventEmitter } = require('events');

const WATCHDOG_SECONDS = Number(process.env.TWINLENS_NODE_WATCHDOG_SECONDS || 90);

let currentStep = 'start';

function log(line) {
  process.stdout.write(line + '\n');
}

/** Prints the versions of Node.js and of the SDK packages the script runs. */
function logVersions() {
  const versions = ['azure-iothub', 'azure-iot-device', 'azure-iot-device-mqtt', 'azure-iot-common', 'mqtt']
    .map((name) => `${name} ${require(`${name}/package.json`).version}`);
  log(`note: node ${process.version}; ${versions.join(', ')}`);
}

/** Fails the current step with `what` unless `condition` holds; prints `ok: <what>`. */
function check(condition, what) {
  if (!condition) {
    throw new CheckFailed(what);
  }
  log(`ok: ${what}`);
}

class CheckFailed extends Error {
  constructor(what) {
    super(what);
    this.name = 'CheckFailed';
  }
}

/** A one-line description of an error, with the HTTP status and body when there are any. */
function describe(err) {
  if (!(err instanceof Error)) {
    return String(err);
  }
  if (err instanceof CheckFailed) {
    return err.message;
  }
  let text = `${err.constructor.name}: ${err.message}`;
  if (err.response && err.response.statusCode) {
    text += ` (HTTP ${err.response.statusCode}`;
    if (err.responseBody) {
      text += `, body ${String(err.responseBody).slice(0, 300)}`;
    }
    text += ')';
  }
  return text;
}

/** Resolves as `promise` does, or rejects when it has not settled within `seconds`. */
function within(seconds, what, promise) {
  let timer;
  const timeout = new Promise((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${seconds} s`)), seconds * 1000);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Calls `fn(callback)` and resolves with the callback's results after the error. */
function callback(fn) {
  return new Promise((resolve, reject) => {
    fn((err, ...results) => (err ? reject(err) : resolve(results)));
  });
}

/** `callback(fn)` bounded by `seconds`. */
function call(seconds, what, fn) {
  return within(seconds, what, callback(fn));
}

/** Waits until `predicate()` (or the promise it returns) is truthy, polled every 50 ms. */
async function waitFor(seconds, what, predicate) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await predicate();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new CheckFailed(`${what} (waited ${seconds} s)`);
    }
    await sleep(50);
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Expects `promiseFn()` to fail with an error whose class is `errorClass` (the SDK's own
 * error classes: azure-iothub carries a copy of azure-iot-common's errors, so its errors
 * are compared by class name, not with instanceof) and, when given, HTTP `status`.
 */
async function expectError(what, errorClass, status, promiseFn) {
  let err = null;
  try {
    await promiseFn();
  } catch (caught) {
    err = caught;
  }
  if (!err) {
    throw new CheckFailed(`${what} should fail with ${errorClass}, but it succeeded`);
  }
  const got = describe(err);
  check(err.constructor.name === errorClass && err.name === errorClass,
    `${what} fails with ${errorClass}` + (errorClass === err.constructor.name ? '' : ` (got ${got})`));
  if (status) {
    const actual = err.response && err.response.statusCode;
    check(actual === status, `${what} answers HTTP ${status}` + (actual === status ? '' : ` (got ${got})`));
  }
  return err;
}

/** The steps of one script: runs them in order and reports the failed ones at the end. */
class Steps {
  constructor(title) {
    this.title = title;
    this.passed = new Set();
    this.failed = [];
    this.skipped = [];
  }

  /** Runs step `name` unless one of the steps it `needs` did not pass. */
  async run(name, needs, fn) {
    const missing = needs.filter((n) => !this.passed.has(n));
    if (missing.length > 0) {
      log(`skipped: ${name} (needs: ${missing.join(', ')})`);
      this.skipped.push(name);
      return;
    }
    currentStep = name;
    try {
      await fn();
      this.passed.add(name);
    } catch (err) {
      log(`FAILED: ${name}: ${describe(err)}`);
      this.failed.push(name);
    }
    currentStep = `after ${name}`;
  }

  /** Prints the summary and exits: 0 when every step passed, else 1. */
  finish() {
    if (this.failed.length === 0 && this.skipped.length === 0) {
      log(`${this.title}: all checks passed`);
      process.exit(0);
    }
    const summary = `${this.title}: failed steps: ${this.failed.join('; ') || 'none'}` +
      (this.skipped.length ? `; skipped steps: ${this.skipped.join('; ')}` : '');
    log(summary);
    process.exit(1);
  }
}

/** Ends the process if the script is still running after the watchdog's time. */
function startWatchdog() {
  setTimeout(() => {
    const line = `FAILED: the script did not finish within ${WATCHDOG_SECONDS} s (in step: ${currentStep})`;
    log(line);
    process.stderr.write(line + '\n');
    process.exit(2);
  }, WATCHDOG_SECONDS * 1000).unref();
  for (const event of ['unhandledRejection', 'uncaughtException']) {
    process.on(event, (err) => {
      const line = `FAILED: ${event} in step ${currentStep}: ${describe(err)}\n${err && err.stack}`;
      log(line);
      process.stderr.write(line + '\n');
      process.exit(3);
    });
  }
}

/**
 * The hub's service connection string from TWINLENS_SERVICE_CS. azure-iothub sends its
 * requests to HostName on the HTTPS default port and cannot take a port in HostName, so
 * a `HostName=localhost:443` becomes `HostName=localhost`; any other port is refused.
 */
function serviceConnectionString() {
  const cs = process.env.TWINLENS_SERVICE_CS;
  if (!cs) {
    throw new Error('TWINLENS_SERVICE_CS is not set');
  }
  const fields = parseConnectionString(cs);
  const [host, port] = fields.HostName.split(':');
  if (port && port !== '443') {
    throw new Error(`the Node service SDK reaches a hub only on port 443; the hub listens on ${fields.HostName}`);
  }
  fields.HostName = host;
  return Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(';');
}

function parseConnectionString(cs) {
  const fields = {};
  for (const part of cs.split(';')) {
    const at = part.indexOf('=');
    fields[part.slice(0, at)] = part.slice(at + 1);
  }
  return fields;
}

/**
 * Records what the device SDK puts on the wire. azure-iot-mqtt-base dials through
 * `require('mqtt').connect`; this wraps it (without changing what it does) to keep, for
 * each connection, its URL, the clean flag and password of its CONNECT, the CONNACK,
 * and every SUBSCRIBE with its SUBACK.
 */
function recordMqttConnections() {
  const mqtt = require('mqtt');
  const wire = new EventEmitter();
  wire.connections = [];
  const realConnect = mqtt.connect;
  mqtt.connect = function connect(url, options) {
    const client = realConnect.apply(this, arguments);
    const connection = {
      url: String(url),
      connect: null,
      connack: null,
      closed: false,
      subscribes: new Map(), // messageId -> { topics, granted }
    };
    wire.connections.push(connection);
    // mqtt.js writes the CONNECT packet from these options while it is constructed.
    const sent = client.options || options;
    connection.connect = {
      clean: sent.clean,
      clientId: sent.clientId,
      username: sent.username,
      password: sent.password === undefined ? undefined : String(sent.password),
    };
    client.on('packetsend', (packet) => {
      if (packet.cmd === 'subscribe') {
        connection.subscribes.set(packet.messageId, {
          topics: packet.subscriptions.map((s) => s.topic),
          granted: null,
        });
      }
    });
    client.on('packetreceive', (packet) => {
      if (packet.cmd === 'connack') {
        connection.connack = { returnCode: packet.returnCode, sessionPresent: packet.sessionPresent };
        wire.emit('connack', connection);
      } else if (packet.cmd === 'suback') {
        const subscribe = connection.subscribes.get(packet.messageId);
        if (subscribe) {
          subscribe.granted = packet.granted;
        }
      }
    });
    client.on('close', () => {
      connection.closed = true;
    });
    return client;
  };
  /** The SUBACK codes the hub granted for `topic` on the latest connection that asked. */
  wire.granted = (topic) => {
    for (const connection of [...wire.connections].reverse()) {
      for (const subscribe of connection.subscribes.values()) {
        const at = subscribe.topics.indexOf(topic);
        if (at >= 0) {
          return subscribe.granted ? subscribe.granted[at] : null;
        }
      }
    }
    return null;
  };
  /** Every topic subscribed on `connection`. */
  wire.subscribedOn = (connection) => [...connection.subscribes.values()].flatMap((s) => s.topics);
  return wire;
}

module.exports = {
  Steps,
  call,
  callback,
  check,
  CheckFailed,
  describe,
  expectError,
  log,
  logVersions,
  parseConnectionString,
  recordMqttConnections,
  serviceConnectionString,
  sleep,
  startWatchdog,
  waitFor,
  within,
};
