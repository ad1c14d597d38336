"""The YAML's ``fleet:`` before anything runs: paths made absolute, every template, feed, check,
capture and ``${NAME}`` checked, and each service turned into a test type the runner can pick.

Every mistake is a one-line :class:`ConfigError` naming the file and the place in it
(``fleet.pumps.operations[0].json``) and what would be valid, and nothing is sent: a feed that does
not provide a column a template names, a variable no earlier step captures, a bad JSON path, a data
file or ``.proto`` that is missing, an environment variable that is not set.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from load_tests.core.checks import CompiledCheck, compile_captures
from load_tests.core.errors import ConfigError
from load_tests.core.feeds import columns, load_rows
from load_tests.core.fleet import LocustfileService, OpenAIService, Step, class_name_of, steps_of
from load_tests.core.llm_workloads import WorkloadSource
from load_tests.core.templates import Template
from load_tests.launch.catalogue import LOCUST_DIR, TestType
from load_tests.launch.options import cli_or_env

FLEET_LOCUSTFILE = LOCUST_DIR / "fleet.py"
RESERVED = frozenset({"rest", "websocket", "socketio", "grpc", "llm", "scripted", "all"})
_PATH_FIELDS = ("ca_file", "proto", "file", "tokenizer")
_TEMPLATE_FIELDS = {
    "http": ("path", "query", "headers", "json_body", "form", "multipart", "parquet", "body"),
    "websocket": ("send",),
    "socketio": ("payload",),
    "grpc": ("request", "messages", "metadata"),
}


def prepare_fleet(fleet: Mapping[str, Any], base: Path, source: str, env: Mapping[str, str]) -> dict[str, Any]:
    """Every service with its files made absolute (relative to the config's folder), checked."""
    prepared: dict[str, Any] = {}
    seen_classes: dict[str, str] = {}
    for name, service in fleet.items():
        where = f"{source}: fleet.{name}"
        if name.lower() in RESERVED:
            raise ConfigError(f"{where}: the name {name!r} is taken by the bundled test types; choose another")
        other = seen_classes.setdefault(class_name_of(name), name)
        if other != name:
            raise ConfigError(f"{where}: the name clashes with {other!r} ('-' and '_' read the same)")
        service = _absolute(service, base, where)
        if isinstance(service, OpenAIService):
            service = _with_workload(service, base, where)
            _check_openai(service, where, env)
        elif not isinstance(service, LocustfileService):
            _check_service(service, where, env)
        prepared[name] = service
    return prepared


def _absolute(service: Any, base: Path, where: str) -> Any:
    changes: dict[str, Any] = {}
    for key in _PATH_FIELDS:
        value = getattr(service, key, None)
        if value:
            path = Path(value).expanduser()
            path = path if path.is_absolute() else (base / path).resolve()
            if not path.is_file():
                raise ConfigError(f"{where}.{key}: file not found: {path}")
            changes[key] = str(path)
    data = getattr(service, "data", None)
    if data is not None:
        path = Path(data.file).expanduser()
        changes["data"] = data.model_copy(update={"file": str(path if path.is_absolute() else (base / path).resolve())})
    return service.model_copy(update=changes) if changes else service


def _with_workload(service: OpenAIService, base: Path, where: str) -> OpenAIService:
    """The workload's files made absolute and read now: a bad prompt file or trace fails before any traffic."""
    if service.workload is None:
        return service
    workload = service.workload.with_base(base)
    WorkloadSource(workload, f"{where}.workload")
    return service.model_copy(update={"workload": workload})


def _check_openai(service: OpenAIService, where: str, env: Mapping[str, str]) -> None:
    """The key's variable is set (its value is never shown), the tokenizer loads, the address is a URL."""
    if service.api_key_env and not env.get(service.api_key_env):
        raise ConfigError(f"{where}.api_key_env: the environment variable {service.api_key_env} is not set")
    for key in ("headers", "url"):
        value = getattr(service, key)
        if value:
            _compile(value, f"{where}.{key}", env, None, set(), False)
    if "${" not in service.url and not service.url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}.base_url: {service.url!r} is not an http(s) URL such as http://127.0.0.1:8000/v1")
    if service.tokenizer:
        try:
            from tokenizers import Tokenizer

            Tokenizer.from_file(service.tokenizer)
        except Exception as exc:  # the library raises its own exception types for a bad file
            raise ConfigError(f"{where}.tokenizer: not a tokenizer.json ({type(exc).__name__})") from None


def _check_service(service: Any, where: str, env: Mapping[str, str]) -> None:
    """Compile every template, check and capture of ``service``; refuse what could only fail at run time."""
    provided = columns(load_rows(Path(service.data.file), f"{where}.data")) if service.data else None
    for key in ("headers", "auth", "metadata", "query", "url", "target"):
        value = getattr(service, key, None)
        if value:
            _compile(value, f"{where}.{key}", env, provided, set(), service.data is not None)
    captured: set[str] = set()
    section = "flow" if service.flow else "operations"
    for i, step in enumerate(steps_of(service)):
        at = f"{where}.{section}[{i}]"
        for key in _TEMPLATE_FIELDS[service.protocol]:
            value = getattr(step, key, None)
            if value is not None:
                _compile(value, f"{at}.{key}", env, provided, captured if service.flow else set(),
                         service.data is not None)  # fmt: skip
        _check_checks(step, at, env, provided, captured, service.data is not None)
        compile_captures(step.capture, f"{at}.capture")
        captured |= set(step.capture)


def _check_checks(step: Step, at: str, env: Mapping[str, str], provided: frozenset[str] | None, captured: set[str],
                  has_feed: bool) -> None:  # fmt: skip
    for j, check in enumerate(step.checks):
        CompiledCheck.compile(check, f"{at}.checks[{j}]")  # a bad path or regex is a ConfigError here
        for value in (check.equals, check.in_):
            if value is not None:
                _compile(value, f"{at}.checks[{j}]", env, provided, captured | set(step.capture), has_feed)


def _compile(value: Any, where: str, env: Mapping[str, str], provided: frozenset[str] | None, captured: set[str],
             has_feed: bool) -> Template:  # fmt: skip
    template = Template.compile(value, where).with_env(env, where)
    for ref in template.refs:
        if ref[0] == "row":
            if not has_feed:
                raise ConfigError(f"{where}: {{{{ {'.'.join(ref)} }}}} needs a data: feed on the service")
            if len(ref) > 1 and provided is not None and ref[1] not in provided:
                raise ConfigError(f"{where}: the feed has no column {ref[1]!r} (it has {', '.join(sorted(provided))})")
        elif ref[0] == "vars" and len(ref) > 1 and ref[1] not in captured:
            raise ConfigError(f"{where}: {{{{ vars.{ref[1]} }}}} is captured by no earlier step of the flow "
                              f"(captured so far: {', '.join(sorted(captured)) or 'nothing'})")  # fmt: skip
    return template


def fleet_test_types(fleet: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, TestType]:
    """One test type per service: the fleet locustfile's class, or a team's own file and classes; the
    address (for the check that something listens there) with ``${NAME}`` filled from ``env``."""
    types: dict[str, TestType] = {}
    for name, service in fleet.items():
        if isinstance(service, LocustfileService):
            users = tuple(service.users) or user_classes_in(Path(service.file))
            if not users:
                raise ConfigError(f"fleet.{name}.file: {service.file} defines no User class (name them in users:)")
            types[name] = TestType(name, service.file, {"normal": users}, bundled=False, address=service.url)
        else:
            address = getattr(service, "url", None) or getattr(service, "target", None)
            if address and "${" in address:
                address = str(Template.compile(address, f"fleet.{name}").with_env(env, f"fleet.{name}").render({}))
            types[name] = TestType(name, str(FLEET_LOCUSTFILE), {"normal": (class_name_of(name),)}, bundled=False,
                                   address=address)  # fmt: skip
    return types


def user_classes_in(path: Path) -> tuple[str, ...]:
    """The non-abstract User classes a locustfile defines, read from its source (importing it here would
    monkey-patch this process with gevent): classes whose base names end in ``User`` (or derive from one
    defined in the file), without ``abstract = True``."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError) as exc:
        raise ConfigError(f"{path}: cannot read the locustfile ({exc})") from None
    known: set[str] = set()
    users: list[str] = []
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
        if not any(b.endswith("User") or b in known for b in bases):
            continue
        known.add(node.name)
        abstract = any(isinstance(s, ast.Assign) and any(getattr(t, "id", "") == "abstract" for t in s.targets)
                       and getattr(s.value, "value", False) is True for s in node.body)  # fmt: skip
        if not abstract:
            users.append(node.name)
    return tuple(users)


def locustfile_service_name(path: str) -> str:
    """``--locustfile ./tests/my_api.py`` runs as the service ``my_api``."""
    stem = "".join(c if c.isalnum() or c in "_-" else "_" for c in Path(path).stem)
    return stem if stem[:1].isalpha() else f"locustfile_{stem}"


def with_locustfile(fleet: Mapping[str, Any], cli: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """The config's fleet plus the team's own locustfile given with ``--locustfile`` (and ``--user-classes``)."""
    services = dict(fleet)
    found = cli_or_env(cli, env, "locustfile")
    if not found:
        return services
    path = Path(str(found[0])).expanduser().resolve()
    if not path.is_file():
        raise ConfigError(f"{found[1]}: file not found: {path}")
    classes = cli_or_env(cli, env, "user_classes")
    users = [c.strip() for c in str(classes[0]).split(",") if c.strip()] if classes else []
    host = cli_or_env(cli, env, "host")
    name = locustfile_service_name(str(path))
    services[name] = LocustfileService(protocol="locustfile", file=str(path), users=users,
                                       url=str(host[0]) if host else None)  # fmt: skip
    return services
