// echo_grpcjs.js -- the reference of bench scenario 4 on @grpc/grpc-js:
// a gRPC server over mutual TLS that answers /dossier.v1.Documents/Get
// with canned messages (the bytes dossierd sent for the same 1 KiB
// document) and does no work at all: no parsing (identity serializers),
// no storage, no crypto beyond TLS.  The upper bound of the stack.
//
//   node echo_grpcjs.js PORT KEYS_DIR MESSAGE_FILE...
// (NODE_PATH=tests/interop/node_modules)
'use strict';
const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');

const [port, keys, ...canned] = process.argv.slice(2);
if (!port || !keys || canned.length === 0) {
  console.error('usage: node echo_grpcjs.js PORT KEYS_DIR MESSAGE_FILE...');
  process.exit(2);
}
const msgs = canned.map((f) => fs.readFileSync(f));
const same = (b) => b;
const service = {
  Get: {
    path: '/dossier.v1.Documents/Get',
    requestStream: false,
    responseStream: true,
    requestSerialize: same,
    requestDeserialize: same,
    responseSerialize: same,
    responseDeserialize: same,
  },
};
const server = new grpc.Server();
server.addService(service, {
  Get: (call) => {
    for (const m of msgs) call.write(m);
    call.end();
  },
});
const creds = grpc.ServerCredentials.createSsl(
  fs.readFileSync(path.join(keys, 'ca.crt')),
  [{
    private_key: fs.readFileSync(path.join(keys, 'server.key')),
    cert_chain: fs.readFileSync(path.join(keys, 'server.crt')),
  }],
  true);
server.bindAsync('127.0.0.1:' + port, creds, (err) => {
  if (err) {
    console.error('echo_grpcjs: cannot listen: ' + err.message);
    process.exit(1);
  }
});
process.on('SIGTERM', () => server.forceShutdown() || process.exit(0));
