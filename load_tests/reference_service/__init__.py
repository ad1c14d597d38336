"""The bundled reference target: a small "AI gateway" speaking HTTP, WebSocket, Socket.IO and gRPC.

Start it with ``python -m load_tests.reference_service``; see its ``__main__.py`` for options and
``load_tests.reference_service.launcher`` to start it from Python on free ports.
"""
