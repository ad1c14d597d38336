"""State every protocol of the target shares: the work model, the telemetry and the API key."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from load_tests.reference_service.faults import InjectedFault, WorkModel
from load_tests.reference_service.llm_engine import LlmEngine
from load_tests.reference_service.telemetry import Telemetry

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass
class Service:
    """One target instance: what it costs to serve a call, what it counted, who may call."""

    work: WorkModel = field(default_factory=WorkModel)
    telemetry: Telemetry = field(default_factory=Telemetry)
    api_key: str | None = None
    llm: LlmEngine = field(default_factory=LlmEngine)  # every chat stream's timing, queue and truth log
    in_flight: int = field(default=0, init=False)  # calls of every protocol being served now

    def authorized(self, presented: str | None) -> bool:
        """True when no key is configured or ``presented`` matches it (constant-time compare)."""
        if not self.api_key:
            return True
        return presented is not None and hmac.compare_digest(presented.encode(), self.api_key.encode())

    @staticmethod
    def key_from_headers(headers: dict[str, str] | object) -> str | None:
        """The key a client presented as ``X-API-Key`` or ``Authorization: Bearer``."""
        get = headers.get
        key = get("x-api-key")
        if key:
            return str(key)
        auth = get("authorization") or ""
        return auth[7:] if auth.lower().startswith("bearer ") else None

    async def call(
        self, protocol: str, endpoint: str, operation: str, *, db: bool = False, count: bool = True, timed: bool = True
    ) -> None:
        """Count one call, spend its service time (holding a DB connection if asked) and apply faults.

        Raises InjectedFault after counting the error, so handlers only translate it to their
        protocol's error answer. ``timed=False``: no service time (chat streams take theirs from the LLM
        engine), but the injected extra delay still.
        """
        telemetry = self.telemetry
        if count:  # gRPC's interceptor counts every RPC on arrival itself
            telemetry.request(protocol, endpoint)
        faults = self.work.faults
        if faults.overload_above and self.in_flight >= faults.overload_above and faults.applies_to(protocol, operation):
            telemetry.error(protocol, endpoint, "overloaded")
            raise InjectedFault(f"overloaded: {self.in_flight} calls in flight")
        self.in_flight += 1
        try:
            async with telemetry.in_flight(protocol):
                if db:
                    async with telemetry.db_connection():
                        await self.work.serve(protocol, operation, timed)
                else:
                    await self.work.serve(protocol, operation, timed)
        except InjectedFault:
            telemetry.error(protocol, endpoint, "injected")
            raise
        finally:
            self.in_flight -= 1
