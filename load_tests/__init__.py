"""Load-testing harness on Locust for AI services over HTTP/REST, WebSocket, Socket.IO and gRPC."""
