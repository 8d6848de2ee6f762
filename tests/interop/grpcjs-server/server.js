// A stock @grpc/grpc-js server of rpc.testing.TestService (protos/test_service.proto), the same
// behaviour as tests/Rpc.TestServer/ConformanceService.cs, for RpcChannel's interop tests
// (tests/Rpc.Tests/Http/ClientGrpcJsInteropTests.cs). Prints "PORT <n>" once it listens on
// 127.0.0.1; exits when its stdin closes (the test ended or died) or after MAX_LIFETIME_MS.
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const MAX_LIFETIME_MS = 10 * 60 * 1000;
const MAX_SLEEP_KEYS = 10000;

const definition = protoLoader.loadSync(path.join(__dirname, '..', '..', '..', 'protos', 'test_service.proto'), {
  keepCase: false,
  longs: Number,
  defaults: true,
});
const testing = grpc.loadPackageDefinition(definition).rpc.testing;

// Sleep outcomes by key, so GetSleepOutcome can tell what a Sleep call saw; bounded.
const outcomes = new Map();
function outcome(key) {
  let entry = outcomes.get(key);
  if (!entry) {
    if (outcomes.size >= MAX_SLEEP_KEYS) {
      outcomes.delete(outcomes.keys().next().value);
    }
    let resolve;
    const promise = new Promise((r) => { resolve = r; });
    entry = { promise, resolve };
    outcomes.set(key, entry);
  }
  return entry;
}

function echoed(call) {
  const metadata = new grpc.Metadata();
  for (const [key, values] of Object.entries(call.metadata.toJSON())) {
    if (key.startsWith('x-echo-')) {
      for (const value of values) {
        metadata.add(key, value);
      }
    }
  }
  return metadata;
}

function requestedError(status, trailers) {
  if (!status || !status.code) {
    return null;
  }
  const metadata = trailers ? trailers.clone() : new grpc.Metadata();
  metadata.set('x-status-trailer', 'present');
  return { code: status.code, details: status.message, metadata };
}

function payload(size) {
  return { body: Buffer.alloc(size) };
}

const service = {
  emptyCall(call, callback) {
    callback(null, {});
  },

  unaryCall(call, callback) {
    const request = call.request;
    let trailers = new grpc.Metadata();
    if (request.echoMetadata) {
      const headers = echoed(call);
      call.sendMetadata(headers);
      trailers = headers.clone();
    }
    const error = requestedError(request.responseStatus, trailers);
    if (error) {
      callback(error);
      return;
    }
    const deadline = call.getDeadline();
    // grpc-js gives a Date or a number of milliseconds since the epoch; Infinity when there is none.
    const at = deadline instanceof Date ? deadline.getTime() : Number(deadline);
    const remaining = Number.isFinite(at) ? at - Date.now() : -1;
    callback(null, { payload: payload(request.responseSize), peer: call.getPeer(), deadlineRemainingMs: remaining }, trailers);
  },

  async streamingOutputCall(call) {
    const request = call.request;
    for (const parameters of request.responseParameters) {
      if (parameters.intervalUs > 0) {
        await new Promise((resolve) => setTimeout(resolve, parameters.intervalUs / 1000));
      }
      if (call.cancelled) {
        return;
      }
      call.write({ payload: payload(parameters.size) });
    }
    const error = requestedError(request.responseStatus);
    if (error) {
      call.emit('error', error);
      return;
    }
    call.end();
  },

  streamingInputCall(call, callback) {
    let total = 0;
    call.on('data', (message) => { total += message.payload ? message.payload.body.length : 0; });
    call.on('end', () => callback(null, { aggregatedPayloadSize: total }));
    call.on('error', () => {});
  },

  fullDuplexCall(call) {
    const headers = echoed(call);
    call.sendMetadata(headers);
    let failed = false;
    call.on('data', (request) => {
      if (failed) {
        return;
      }
      const error = requestedError(request.responseStatus);
      if (error) {
        failed = true;
        call.emit('error', error);
        return;
      }
      for (const parameters of request.responseParameters) {
        call.write({ payload: payload(parameters.size) });
      }
    });
    call.on('end', () => { if (!failed) { call.end(headers.clone()); } });
    call.on('error', () => {});
  },

  sleep(call, callback) {
    const { key, millis } = call.request;
    const entry = outcome(key);
    const started = new grpc.Metadata();
    started.set('sleep-started', key);
    call.sendMetadata(started);
    const timer = setTimeout(() => {
      entry.resolve('completed');
      callback(null, {});
    }, millis);
    call.on('cancelled', () => {
      clearTimeout(timer);
      entry.resolve('cancelled');
    });
  },

  getSleepOutcome(call, callback) {
    const { key, waitMillis } = call.request;
    let timer;
    const unknown = new Promise((resolve) => { timer = setTimeout(() => resolve('unknown'), waitMillis); });
    Promise.race([outcome(key).promise, unknown]).then((result) => {
      clearTimeout(timer);
      callback(null, { outcome: result });
    });
  },

  throw(call, callback) {
    callback({ code: grpc.status.UNKNOWN, details: call.request.message });
  },
};

const server = new grpc.Server();
server.addService(testing.TestService.service, service);
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error) {
    console.error(`bind failed: ${error.message}`);
    process.exit(1);
  }
  console.log(`PORT ${port}`);
});

function stop() {
  server.forceShutdown();
  process.exit(0);
}

process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
setTimeout(stop, MAX_LIFETIME_MS).unref();
