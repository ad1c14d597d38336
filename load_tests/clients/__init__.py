"""Protocol clients. They know nothing of Locust's stats: they report through ``load_tests.engine.request_hook``."""
