"""Inside Locust's process: harness listeners, shapes, pacing, users, the request hook, workers.

Imported by locustfiles only: importing these modules imports locust (and gevent's monkey-patching).
"""
