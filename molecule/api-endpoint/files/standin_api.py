#!/usr/bin/python3
"""STAND-IN for a Kubernetes API server, for kubesmith's tests only: it is NOT kube-apiserver.

An HTTPS server that answers every GET (including /readyz, which haproxy checks) with 200 and
"standin-api <host name>", so that a test can tell which host a request reached.
Usage: standin_api.py PORT CERT KEY
"""

import http.server
import socket
import ssl
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"standin-api {socket.gethostname()}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port, context):
        super().__init__(("0.0.0.0", port), Handler)
        self.context = context

    def finish_request(self, request, client_address):
        # the TLS handshake happens in the connection's thread: a client that never does one
        # (a bare TCP check) does not block the others
        request.settimeout(10)
        super().finish_request(self.context.wrap_socket(request, server_side=True), client_address)

    def handle_error(self, request, client_address):
        pass


def main():
    port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    Server(port, context).serve_forever()


if __name__ == "__main__":
    main()
