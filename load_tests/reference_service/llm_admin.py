"""Operator endpoints of the reference LLM, hidden from /openapi.json and open to loopback callers only.

- ``GET /admin/llm``: the timing knobs (``llm_timing.LlmTiming`` as JSON); ``POST`` some of them to
  change them while the target runs (a test that breaks and heals the service mid-run);
- ``GET /admin/llm/requests``: the truth log, one object per request (``llm_engine.Record.as_dict``);
  ``DELETE`` empties it and answers ``{"cleared": n}``.
"""

from __future__ import annotations

import json

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from load_tests.reference_service.llm_timing import parse_timing
from load_tests.reference_service.service import LOOPBACK, Service


def _loopback_only(request: Request) -> Response | None:
    if request.client is None or request.client.host not in LOOPBACK:
        return JSONResponse({"error": "admin endpoints accept loopback callers only"}, status_code=403)
    return None


def add_llm_admin_routes(app: FastAPI, service: Service) -> None:
    """``/admin/llm`` (the timing knobs: GET, POST to change some) and ``/admin/llm/requests`` (GET, DELETE)."""

    @app.get("/admin/llm", include_in_schema=False)
    async def get_timing(request: Request) -> Response:
        return _loopback_only(request) or JSONResponse(service.llm.timing.as_dict())

    @app.post("/admin/llm", include_in_schema=False)
    async def set_timing(request: Request) -> Response:
        refused = _loopback_only(request)
        if refused:
            return refused
        try:
            data = json.loads(await request.body() or b"{}")
            if not isinstance(data, dict):
                raise ValueError("body must be a JSON object")
            service.llm.timing = parse_timing(data, service.llm.timing)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(service.llm.timing.as_dict())

    @app.get("/admin/llm/requests", include_in_schema=False)
    async def requests_log(request: Request) -> Response:
        return _loopback_only(request) or JSONResponse(service.llm.log())

    @app.delete("/admin/llm/requests", include_in_schema=False)
    async def clear_log(request: Request) -> Response:
        refused = _loopback_only(request)
        if refused:
            return refused
        cleared = len(service.llm.log())
        service.llm.reset_log()
        return JSONResponse({"cleared": cleared})
