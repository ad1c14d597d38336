"""The launcher process: command line, settings (YAML + env + CLI), the Locust launcher, series.

It writes the run plan and starts Locust; it never imports locust itself (that would monkey-patch it).
"""
