"""Pure core: plan and summary types, recorder, thresholds, capacity logic, compare inputs, validity.

Nothing here imports locust or gevent, so every module is importable and unit-testable anywhere.
"""
