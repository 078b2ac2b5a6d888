// test_grpcjs.js -- dossierd against @grpc/grpc-js, the stock Node client.
//
// Loads proto/ directly with @grpc/proto-loader (no code generation) and
// runs the same families of checks as test_grpcio.py: the four RPC shapes,
// deadline, cancellation, unknown and unimplemented methods, message size,
// health and reflection.  The last check sends SIGTERM to the daemon during
// a health Watch.
//
// Started by run_node.py, which starts the daemon and sets:
//   DOSSIER_ADDR  host:port          DOSSIER_KEYS  the dev PKI directory
//   DOSSIER_TOP   repository root    DOSSIER_PID   the daemon's pid
// Prints one "ok - ..." / "not ok - ..." line per check, then
// "N passed, N failed"; exits nonzero on any failure.
'use strict';

const assert = require('node:assert');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const MiB = 1024 * 1024;
const TOP = process.env.DOSSIER_TOP || path.resolve(__dirname, '..', '..');
const ADDR = process.env.DOSSIER_ADDR;
const KEYS = process.env.DOSSIER_KEYS;
const PID = Number(process.env.DOSSIER_PID || 0);
if (!ADDR || !KEYS) {
  console.log('not ok - DOSSIER_ADDR and DOSSIER_KEYS must be set ' +
              '(run through run_node.py)');
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const PRINCIPAL = 'spiffe://dossier.test/agency/caf-75';
const S = grpc.status;

const loadOpts = {
  keepCase: true, longs: String, enums: String, bytes: Buffer,
  defaults: true, oneofs: true, includeDirs: [path.join(TOP, 'proto')],
};
const pkg = grpc.loadPackageDefinition(protoLoader.loadSync([
  'dossier/v1/diag.proto', 'dossier/v1/documents.proto',
  'grpc/health/v1/health.proto',
], loadOpts));
// The two reflection versions declare the same message names in two
// packages: load them separately.
const reflV1 = grpc.loadPackageDefinition(protoLoader.loadSync(
  'grpc/reflection/v1/reflection.proto', loadOpts));
const reflV1alpha = grpc.loadPackageDefinition(protoLoader.loadSync(
  'grpc/reflection/v1alpha/reflection.proto', loadOpts));

const creds = grpc.credentials.createSsl(
  fs.readFileSync(path.join(KEYS, 'ca.crt')),
  fs.readFileSync(path.join(KEYS, 'agency-caf-75.key')),
  fs.readFileSync(path.join(KEYS, 'agency-caf-75.crt')));
const chOpts = {
  // The server certificate names localhost and 127.0.0.1; naming the host
  // keeps Node from sending an IP address as SNI (RFC 6066 forbids it).
  'grpc.ssl_target_name_override': 'localhost',
  'grpc.default_authority': 'localhost',
  'grpc.max_send_message_length': 64 * MiB,
  'grpc.max_receive_message_length': 64 * MiB,
};

const diag = new pkg.dossier.v1.Diag(ADDR, creds, chOpts);
const health = new pkg.grpc.health.v1.Health(ADDR, creds, chOpts);
const documents = new pkg.dossier.v1.Documents(ADDR, creds, chOpts);
const generic = new grpc.Client(ADDR, creds, chOpts);

function deadline(ms) { return new Date(Date.now() + ms); }

function unary(client, method, req, ms = 10000) {
  return new Promise((resolve, reject) => {
    client[method](req, { deadline: deadline(ms) }, (err, resp) =>
      err ? reject(err) : resolve(resp));
  });
}

async function expectStatus(promise, code, what) {
  try {
    await promise;
  } catch (e) {
    assert.strictEqual(e.code, code,
      `${what}: status ${e.code} (${S[e.code]}) ${e.details}, ` +
      `want ${code} (${S[code]})`);
    return e;
  }
  assert.fail(`${what}: answered OK, want ${S[code]}`);
}

async function stillServing() {
  const r = await unary(diag, 'Echo', { payload: Buffer.from('still?') });
  assert.strictEqual(r.payload.toString(), 'still?');
}

// The bytes Download sends: byte i is (seed + i) % 251.
function pattern(seed) {
  const blk = Buffer.alloc(251 * 4096);
  const s = Number(BigInt(seed) % 251n);
  for (let i = 0; i < blk.length; i++) blk[i] = (s + (i % 251)) % 251;
  return blk;
}
function expectedSha(seed, total) {
  const blk = pattern(seed);
  const h = crypto.createHash('sha256');
  let left = total;
  while (left > 0) {
    const n = Math.min(left, blk.length);
    h.update(blk.subarray(0, n));
    left -= n;
  }
  return h.digest('hex');
}

// --- checks ----------------------------------------------------------------

async function unaryEcho() {
  const p = Buffer.concat([Buffer.from('bonjour \x00'), crypto.randomBytes(64)]);
  const r = await unary(diag, 'Echo', { payload: p });
  assert.ok(r.payload.equals(p), 'payload differs');
  assert.strictEqual(r.principal, PRINCIPAL);
  const e = await unary(diag, 'Echo', {});
  assert.strictEqual(e.payload.length, 0);
  // Several at once on one channel.
  const ps = [];
  for (let i = 0; i < 32; i++) ps.push(crypto.randomBytes(i * 101));
  const rs = await Promise.all(ps.map((x) => unary(diag, 'Echo',
    { payload: x })));
  rs.forEach((x, i) => assert.ok(x.payload.equals(ps[i]), `call ${i}`));
}

function download100() {
  const total = 100 * MiB;
  const seed = 1234567;
  const blk = pattern(seed);
  return new Promise((resolve, reject) => {
    const h = crypto.createHash('sha256');
    let got = 0;
    let msgs = 0;
    let bad = null;
    const t0 = Date.now();
    const call = diag.Download({ total_bytes: total, chunk_bytes: 0, seed },
      { deadline: deadline(110000) });
    call.on('data', (c) => {
      if (msgs < 8 || msgs % 97 === 0) {
        const start = got % 251;
        if (start + c.data.length <= blk.length &&
            !c.data.equals(blk.subarray(start, start + c.data.length))) {
          bad = bad || `content wrong in message ${msgs} at offset ${got}`;
        }
      }
      h.update(c.data);
      got += c.data.length;
      msgs++;
    });
    call.on('error', reject);
    call.on('end', () => {
      try {
        assert.ok(!bad, bad);
        assert.strictEqual(got, total, `got ${got} bytes`);
        assert.strictEqual(h.digest('hex'), expectedSha(seed, total),
          'sha256 differs');
        const dt = (Date.now() - t0) / 1000;
        console.log(`# download: ${got} bytes in ${msgs} messages, ` +
                    `${(got / MiB / dt).toFixed(1)} MiB/s`);
        resolve();
      } catch (e) { reject(e); }
    });
  });
}

function upload20() {
  return new Promise((resolve, reject) => {
    const h = crypto.createHash('sha256');
    const call = diag.Upload({ deadline: deadline(60000) }, (err, r) => {
      if (err) return reject(err);
      try {
        assert.strictEqual(String(r.total_bytes), String(20 * MiB));
        assert.strictEqual(String(r.messages), '20');
        assert.strictEqual(r.sha256.toString('hex'), h.digest('hex'),
          'sha256 differs');
        resolve();
      } catch (e) { reject(e); }
    });
    for (let i = 0; i < 20; i++) {
      const b = crypto.randomBytes(MiB);
      h.update(b);
      call.write({ data: b });
    }
    call.end();
  });
}

function bidi() {
  return new Promise((resolve, reject) => {
    const call = diag.EchoStream({ deadline: deadline(30000) });
    const sent = [];
    let n = 0;
    const next = () => {
      if (n === 20) { call.end(); return; }
      const p = crypto.randomBytes(n * 1000 + 1);
      sent.push(p);
      call.write({ payload: p });
      n++;
    };
    const got = [];
    call.on('data', (r) => {
      try {
        assert.ok(r.payload.equals(sent[got.length]),
          `answer ${got.length} differs`);
        assert.strictEqual(r.principal, PRINCIPAL);
      } catch (e) { reject(e); call.cancel(); return; }
      got.push(r);
      next(); // ping-pong: the next one only after the answer
    });
    call.on('error', reject);
    call.on('end', () => {
      if (got.length === 20) resolve();
      else reject(new Error(`${got.length} answers to 20`));
    });
    next();
  });
}

async function deadlineExceeded() {
  const t0 = Date.now();
  await expectStatus(unary(diag, 'Echo', { payload: Buffer.from('slow'),
    delay_ms: 3000 }, 500), S.DEADLINE_EXCEEDED, 'Echo delay 3 s');
  assert.ok(Date.now() - t0 < 2500, 'deadline took too long');
  await stillServing();
}

function cancelMidStream() {
  return new Promise((resolve, reject) => {
    const call = diag.Download({ total_bytes: 1 << 30, // the server's limit
      chunk_bytes: 0, seed: 7 }, { deadline: deadline(60000) });
    let n = 0;
    call.on('data', () => {
      if (++n === 50) call.cancel();
    });
    call.on('error', () => {}); // the outcome is read from 'status'
    call.on('status', (st) => {
      if (st.code !== S.CANCELLED) {
        reject(new Error(`status ${S[st.code]} ${st.details} after ${n} ` +
                         'messages, want CANCELLED'));
        return;
      }
      stillServing().then(resolve, reject);
    });
  });
}

async function unknownMethod() {
  const id = (x) => x;
  for (const p of ['/dossier.v1.Nope/X', '/dossier.v1.Diag/Nope']) {
    await expectStatus(new Promise((resolve, reject) => {
      generic.makeUnaryRequest(p, id, id, Buffer.alloc(0),
        { deadline: deadline(10000) }, (err, r) =>
          err ? reject(err) : resolve(r));
    }), S.UNIMPLEMENTED, p);
  }
}

async function watchOpen() {
  const id = (x) => x;
  // Events.Watch from now with nothing happening: the stream stays open
  // (no error, no message) until the client's deadline.
  await expectStatus(new Promise((resolve, reject) => {
    const call = generic.makeServerStreamRequest('/dossier.v1.Events/Watch',
      id, id, Buffer.alloc(0), { deadline: deadline(1500) });
    call.on('data', () => reject(new Error('Events/Watch sent an event')));
    call.on('error', reject);
    call.on('end', () => resolve(null));
  }), S.DEADLINE_EXCEEDED, 'Events/Watch');
}

async function oversized() {
  const e = await expectStatus(unary(diag, 'Echo',
    { payload: crypto.randomBytes(5 * MiB) }, 30000),
  S.RESOURCE_EXHAUSTED, '5 MiB Echo');
  console.log(`# oversized: ${S[e.code]} ${JSON.stringify(e.details)}`);
  await stillServing();
}

async function healthCheck() {
  for (const svc of ['', 'dossier.v1.Diag']) {
    const r = await unary(health, 'Check', { service: svc });
    assert.strictEqual(r.status, 'SERVING', `'${svc}': ${r.status}`);
  }
  await expectStatus(unary(health, 'Check', { service: 'nope.Nope' }),
    S.NOT_FOUND, 'unknown service');
}

function reflect(ver, reqs) {
  const ns = ver === 'v1' ? reflV1 : reflV1alpha;
  const client = new ns.grpc.reflection[ver].ServerReflection(ADDR, creds,
    chOpts);
  return new Promise((resolve, reject) => {
    const out = [];
    const call = client.ServerReflectionInfo({ deadline: deadline(20000) });
    call.on('data', (r) => out.push(r));
    call.on('error', (e) => { client.close(); reject(e); });
    call.on('end', () => { client.close(); resolve(out); });
    for (const r of reqs) call.write(r);
    call.end();
  });
}

async function reflection(ver) {
  const out = await reflect(ver, [
    { list_services: '' },
    { file_containing_symbol: 'dossier.v1.Documents' },
    { file_containing_symbol: 'dossier.v1.NoSuchThing' },
  ]);
  assert.strictEqual(out.length, 3, `${out.length} responses to 3`);
  assert.strictEqual(out[0].message_response, 'list_services_response');
  const names = out[0].list_services_response.service.map((s) => s.name);
  console.log(`# ${ver} services: ${names.sort().join(' ')}`);
  for (const want of ['dossier.v1.Diag', 'dossier.v1.Documents',
    'grpc.health.v1.Health']) {
    assert.ok(names.includes(want), `${want} missing`);
  }
  assert.strictEqual(out[1].message_response, 'file_descriptor_response');
  const fds = out[1].file_descriptor_response.file_descriptor_proto;
  assert.ok(fds.length > 0, 'no file descriptor');
  const all = Buffer.concat(fds).toString('latin1');
  assert.ok(all.includes('dossier.v1') && all.includes('Documents') &&
    all.includes('GetDocumentRequest'), 'descriptor lacks Documents');
  assert.strictEqual(out[2].message_response, 'error_response');
  assert.strictEqual(out[2].error_response.error_code, 5,
    `error_code ${out[2].error_response.error_code}`);
}

function watchSigterm() {
  return new Promise((resolve, reject) => {
    assert.ok(PID > 0, 'DOSSIER_PID not set');
    const call = health.Watch({ service: '' }, { deadline: deadline(30000) });
    const statuses = [];
    let t0 = 0;
    call.on('data', (r) => {
      statuses.push(r.status);
      if (statuses.length === 1) {
        if (r.status !== 'SERVING') {
          reject(new Error(`first status ${r.status}`));
          return;
        }
        t0 = Date.now();
        process.kill(PID, 'SIGTERM');
        console.log(`# sent SIGTERM to ${PID}`);
      }
    });
    call.on('error', (e) => {
      if (statuses.includes('NOT_SERVING')) resolve();
      else reject(new Error(`stream ended with ${S[e.code]} ${e.details} ` +
        `and no NOT_SERVING (got ${statuses})`));
    });
    call.on('status', (st) => {
      if (st.code === S.OK) {
        console.log(`# watch after SIGTERM: ${statuses}, end OK after ` +
                    `${Date.now() - t0} ms`);
        resolve();
      }
    });
  });
}

// --- runner ----------------------------------------------------------------

let passed = 0;
const failed = [];
async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok - ${name} (${((Date.now() - t0) / 1000).toFixed(2)}s)`);
  } catch (e) {
    failed.push(name);
    console.log(`not ok - ${name}: ${e && e.message}`);
    if (e && e.stack) {
      console.log(e.stack.split('\n').slice(1, 4).map((l) => '#  ' + l)
        .join('\n'));
    }
  }
}

async function main() {
  await check(`unary Echo (payload, principal ${PRINCIPAL}), 32 at once`,
    unaryEcho);
  await check('server stream: Download 100 MiB, sha256 checked', download100);
  await check('client stream: Upload 20 x 1 MiB, sha256 checked', upload20);
  await check('bidi: EchoStream ping-pong', bidi);
  await check('deadline: delay 3 s, deadline 500 ms -> DEADLINE_EXCEEDED',
    deadlineExceeded);
  await check('cancellation mid-stream, then the server still answers',
    cancelMidStream);
  await check('unknown service/method -> UNIMPLEMENTED', unknownMethod);
  await check('dossier.v1.Events/Watch stays open until the deadline',
    watchOpen);
  await check('oversized 5 MiB request -> RESOURCE_EXHAUSTED', oversized);
  await check("health Check: '' and dossier.v1.Diag SERVING, unknown NOT_FOUND",
    healthCheck);
  await check('reflection v1: list, file_containing_symbol, NOT_FOUND',
    () => reflection('v1'));
  await check('reflection v1alpha: list, file_containing_symbol, NOT_FOUND',
    () => reflection('v1alpha'));
  await check('health Watch: SERVING, then SIGTERM -> NOT_SERVING or clean end',
    watchSigterm);
  for (const c of [diag, health, documents, generic]) c.close();
  console.log(`${passed} passed, ${failed.length} failed`);
  process.exitCode = failed.length ? 1 : 0;
}

main().catch((e) => {
  console.log(`not ok - runner: ${e && e.stack}`);
  process.exitCode = 1;
});
