"""The bundled reference target: a small "AI gateway" speaking HTTP, WebSocket, Socket.IO and gRPC.

Start it with ``python -m load_tests.target``; see ``load_tests/target/__main__.py`` for options and
``load_tests.target.launcher`` to start it from Python on free ports.
"""
