// A @grpc/grpc-js client of RpcServer's standard-gRPC endpoints, driven by Rpc.Tests (Http/ServerGrpcJsTests).
//   node client.js <address> <case>            runs one case; prints "PASS <case>" or "FAIL <case>: <why>"
//   node client.js <address> sleep <key>       a long Sleep call; prints STARTED once the server is in the handler
// <address> is grpc-js's target: 127.0.0.1:port (plaintext) or unix:///absolute/path.
'use strict';
const path = require('path');
const assert = require('assert');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const FOUR_MIB = 4 * 1024 * 1024;
const definition = protoLoader.loadSync(path.join(__dirname, '..', '..', '..', 'protos', 'test_service.proto'), {
  keepCase: false, longs: Number, defaults: true,
});
const { TestService } = grpc.loadPackageDefinition(definition).rpc.testing;

const [, , target, name, key] = process.argv;
const client = new TestService(target, grpc.credentials.createInsecure(), {
  'grpc.max_send_message_length': -1,
  'grpc.max_receive_message_length': FOUR_MIB,
});

const unary = (method, request, metadata = new grpc.Metadata(), options = {}) => new Promise((resolve, reject) => {
  const call = client[method](request, metadata, options, (error, response) => (error ? reject(error) : resolve({ response, call })));
});
const rejects = async (promise) => {
  try { await promise; } catch (error) { return error; }
  throw new Error('the call succeeded; an error was expected');
};
const payload = (size) => ({ body: Buffer.alloc(size) });
const outcome = async (sleepKey) => (await unary('getSleepOutcome', { key: sleepKey, waitMillis: 10000 })).response.outcome;
const deadlineIn = (ms) => new Date(Date.now() + ms);

const cases = {
  async unary() {
    const { response } = await unary('unaryCall', { responseSize: 10 });
    assert.strictEqual(response.payload.body.length, 10);
  },

  async server_streaming() {
    const sizes = [31415, 9, 2653, 58979, 0];
    const call = client.streamingOutputCall({ responseParameters: sizes.map((size) => ({ size })) });
    const received = [];
    for await (const message of call) received.push(message.payload.body.length);
    assert.deepStrictEqual(received, sizes);
  },

  async client_streaming() {
    const total = await new Promise((resolve, reject) => {
      const call = client.streamingInputCall((error, response) => (error ? reject(error) : resolve(response.aggregatedPayloadSize)));
      for (const size of [27182, 8, 1828, 45904]) call.write({ payload: payload(size) });
      call.end();
    });
    assert.strictEqual(total, 74922);
  },

  async duplex() {
    const call = client.fullDuplexCall();
    const iterator = call[Symbol.asyncIterator]();
    for (const size of [31415, 9, 2653, 58979]) {
      call.write({ responseParameters: [{ size }] });
      const { value, done } = await iterator.next();
      assert.ok(!done, 'the response stream ended early');
      assert.strictEqual(value.payload.body.length, size);
    }
    call.end();
    assert.ok((await iterator.next()).done, 'the response stream did not end');
  },

  async metadata_bin() {
    const binary = Buffer.from([0xab, 0xab, 0xab, 0x00, 0xff]);
    const metadata = new grpc.Metadata();
    metadata.set('x-echo-initial', 'test_initial_metadata_value');
    metadata.set('x-echo-trailing-bin', binary);
    let headers;
    let trailers;
    await new Promise((resolve, reject) => {
      const call = client.unaryCall({ echoMetadata: true, responseSize: 1 }, metadata, (error) => (error ? reject(error) : resolve()));
      call.on('metadata', (m) => { headers = m; });
      call.on('status', (s) => { trailers = s.metadata; });
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.strictEqual(headers.get('x-echo-initial')[0], 'test_initial_metadata_value');
    assert.deepStrictEqual(headers.get('x-echo-trailing-bin')[0], binary);
    assert.deepStrictEqual(trailers.get('x-echo-trailing-bin')[0], binary);
  },

  async status_codes() {
    for (let code = 1; code <= 16; code++) {
      const message = `status ${code} from the handler ✓`;
      const error = await rejects(unary('unaryCall', { responseStatus: { code, message } }));
      assert.strictEqual(error.code, code, `code ${code} came back as ${error.code} (${error.details})`);
      assert.strictEqual(error.details, message);
      assert.strictEqual(error.metadata.get('x-status-trailer')[0], 'present', `code ${code} lost its trailer`);
    }
  },

  async unknown_exception() {
    const error = await rejects(unary('throw', { message: 'secret internals' }));
    assert.strictEqual(error.code, grpc.status.UNKNOWN);
    assert.strictEqual(error.details, 'Exception was thrown by handler.');
  },

  async unimplemented() {
    const call = new grpc.Client(target, grpc.credentials.createInsecure());
    const error = await rejects(new Promise((resolve, reject) => call.makeUnaryRequest(
      '/rpc.testing.TestService/NoSuchMethod', (x) => x, (x) => x, Buffer.alloc(0), (e, r) => (e ? reject(e) : resolve(r)))));
    call.close();
    assert.strictEqual(error.code, grpc.status.UNIMPLEMENTED);
    assert.strictEqual(error.details, 'Method is unimplemented.');
  },

  async deadline() {
    await unary('emptyCall', {});
    const sleepKey = `deadline-${process.pid}-${Date.now()}`;
    const error = await rejects(unary('sleep', { key: sleepKey, millis: 20000 }, new grpc.Metadata(), { deadline: deadlineIn(300) }));
    assert.strictEqual(error.code, grpc.status.DEADLINE_EXCEEDED);
    assert.strictEqual(await outcome(sleepKey), 'cancelled');
  },

  async deadline_propagated() {
    const { response } = await unary('unaryCall', {}, new grpc.Metadata(), { deadline: deadlineIn(10000) });
    assert.ok(response.deadlineRemainingMs >= 1000 && response.deadlineRemainingMs <= 10000, `${response.deadlineRemainingMs} ms remained`);
  },

  async cancellation() {
    const sleepKey = `cancel-${process.pid}-${Date.now()}`;
    const error = await rejects(new Promise((resolve, reject) => {
      const call = client.sleep({ key: sleepKey, millis: 20000 }, (e, r) => (e ? reject(e) : resolve(r)));
      call.on('metadata', () => call.cancel());
    }));
    assert.strictEqual(error.code, grpc.status.CANCELLED);
    assert.strictEqual(await outcome(sleepKey), 'cancelled');
  },

  async near_4mib() {
    // Request (4 MiB - 22 bytes serialized) and response each just under the 4 MiB default limits.
    const { response } = await unary('unaryCall', { payload: payload(FOUR_MIB - 32), responseSize: FOUR_MIB - 64 });
    assert.strictEqual(response.payload.body.length, FOUR_MIB - 64);
  },

  async over_4mib_refused_by_server() {
    const error = await rejects(unary('unaryCall', { payload: payload(FOUR_MIB - 9) })); // 4 MiB + 1 serialized
    assert.strictEqual(error.code, grpc.status.RESOURCE_EXHAUSTED);
    await unary('emptyCall', {});
  },
};

async function sleepUntilKilled(sleepKey) {
  const call = client.sleep({ key: sleepKey, millis: 60000 }, () => {});
  call.on('metadata', () => console.log('STARTED'));
  await new Promise(() => {});
}

async function main() {
  if (name === 'sleep') {
    await sleepUntilKilled(key);
    return;
  }

  const run = cases[name];
  if (!run) {
    console.log(`FAIL ${name}: no such case (cases: ${Object.keys(cases).join(', ')})`);
    process.exitCode = 2;
    return;
  }

  try {
    await run();
    console.log(`PASS ${name}`);
  } catch (error) {
    console.log(`FAIL ${name}: ${error && error.stack ? error.stack : error}`);
    process.exitCode = 1;
  } finally {
    client.close();
  }
}

main();
