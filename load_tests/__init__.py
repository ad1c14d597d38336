"""Load-testing harness on Locust for AI services over HTTP/REST, WebSocket, Socket.IO and gRPC.

``validate_results(results_dir, scenario)`` gives the verdict of a saved run.
"""

from load_tests.core.results import validate_results

__all__ = ["validate_results"]
