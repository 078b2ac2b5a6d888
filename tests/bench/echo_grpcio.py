#!/usr/bin/python3
"""echo_grpcio.py -- the reference of bench scenario 4 on python3-grpcio:
a gRPC server (grpc.aio) over mutual TLS that answers
/dossier.v1.Documents/Get with canned messages (the bytes dossierd sent for
the same 1 KiB document) and does no work at all: no parsing (no
serializers: raw bytes), no storage, no crypto beyond TLS.  The upper
bound of the stack.

    echo_grpcio.py PORT KEYS_DIR MESSAGE_FILE...
"""

import asyncio
import os
import sys

os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
import grpc  # noqa: E402


async def serve(port, keys, msgs):
    server = grpc.aio.server()

    async def get(request, context):
        for m in msgs:
            yield m

    handler = grpc.method_handlers_generic_handler(
        "dossier.v1.Documents",
        {"Get": grpc.unary_stream_rpc_method_handler(get)})
    server.add_generic_rpc_handlers((handler,))

    def rd(name):
        with open(os.path.join(keys, name), "rb") as f:
            return f.read()

    creds = grpc.ssl_server_credentials(
        [(rd("server.key"), rd("server.crt"))], root_certificates=rd("ca.crt"),
        require_client_auth=True)
    server.add_secure_port("127.0.0.1:%d" % port, creds)
    await server.start()
    await server.wait_for_termination()


def main():
    if len(sys.argv) < 4:
        print("usage: echo_grpcio.py PORT KEYS_DIR MESSAGE_FILE...",
              file=sys.stderr)
        return 2
    msgs = []
    for fn in sys.argv[3:]:
        with open(fn, "rb") as f:
            msgs.append(f.read())
    asyncio.run(serve(int(sys.argv[1]), sys.argv[2], msgs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
