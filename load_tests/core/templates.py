"""Templates: the YAML values of a fleet's operations, with placeholders filled in per request.

A string may hold ``{{ row.amount }}`` (a column of the data feed's row), ``{{ vars.token }}`` (a
value an earlier flow step captured) and ``{{ id }}`` (a fresh request id); ``.field`` and
``[index]`` reach into nested values (``{{ row.payload.items[0] }}``). A string that is exactly one
placeholder becomes the value itself (``{{ row }}``: the whole row as a JSON body; a number stays a
number); inside longer text a value is written as text (objects, lists, true/false/null as JSON).

Why compiled: a load generator renders the same few templates thousands of times a second, so each
string is read once at start into literal text and accessors, and a value with no placeholder
renders to itself with no work at all. Rendered values may share those constant parts with the
template: treat them as read-only.

``${NAME}`` marks an environment variable, since secrets never live in the file:
:meth:`Template.with_env` fills them in once, as literal text, and its error names the variable,
never a value. ``$${NAME}`` writes a literal ``${NAME}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from load_tests.core.errors import ConfigError

PathStep: TypeAlias = str | int  # a field name or a list index (negative: from the end)
Ref: TypeAlias = tuple[str | int, ...]  # ("row", "amount"), ("vars", "token"), ("id",), ("row", "items", 0)
Render: TypeAlias = Callable[[Mapping[str, Any]], Any]

ROOTS = ("row", "vars", "id")
VALID_REFS = 'row, row.COLUMN, row["a column"], vars.NAME or id (then .field or [index] into row and vars)'
# One scan finds every piece: an escaped "$${", an env variable, a placeholder, or an unclosed opener.
_PIECES = re.compile(r"\$\$\{|\$\{([^}]*)\}|\{\{(.*?)\}\}|\{\{|\$\{", re.DOTALL)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ROOT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FIELD = re.compile(r"[A-Za-z_][\w-]*")
_STEP = re.compile(r"""\.([A-Za-z_][\w-]*)|\[\s*(?:(-?\d+)|"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*\]""")
_ESCAPED = re.compile(r"\\(.)")
_UNCLOSED = {"{{": "'{{' has no closing '}}'", "${": "'${' has no closing '}' (write $${ for a literal ${)"}


class TemplateError(Exception):
    """A value a template names is not there at render time: this one request fails, saying what was missing."""


def parse_steps(text: str) -> tuple[PathStep, ...]:
    """``.a[0]["b c"]`` -> ``("a", 0, "b c")``; a ValueError quotes where the text stops making sense."""
    steps: list[PathStep] = []
    pos = 0
    while pos < len(text):
        match = _STEP.match(text, pos)
        if match is None:
            raise ValueError(f"cannot read {text[pos:]!r}")
        name, index, double, single = match.groups()
        if name is not None:
            steps.append(name)
        elif index is not None:
            steps.append(int(index))
        else:
            steps.append(_ESCAPED.sub(r"\1", double if double is not None else single))
        pos = match.end()
    return tuple(steps)


def follow(value: Any, steps: tuple[PathStep, ...]) -> tuple[int, Any]:
    """How far ``steps`` lead into ``value``, and to what: ``(len(steps), found)`` is a hit.

    A name only reads an object and an index only a list, so ``[0]`` never picks a string's first
    character and ``.x`` never an attribute."""
    for taken, step in enumerate(steps):
        if isinstance(step, str):
            if not isinstance(value, Mapping) or step not in value:
                return taken, value
        elif not isinstance(value, list | tuple) or not -len(value) <= step < len(value):
            return taken, value
        value = value[step]
    return len(steps), value


def label_of(root: str, steps: tuple[PathStep, ...]) -> str:
    """A reference as the user would write it: ``row.payload["a key"][0]``."""
    text = [root]
    for step in steps:
        if isinstance(step, int):
            text.append(f"[{step}]")
        elif _FIELD.fullmatch(step):
            text.append(f".{step}")
        else:
            text.append(f"[{json.dumps(step, ensure_ascii=False)}]")
    return "".join(text)


def as_text(value: Any) -> str:
    """A value inside longer text: strings as they are, numbers as written, the rest as JSON."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, bool | dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


@dataclass(frozen=True)
class _RefPart:
    label: str
    get: Render


@dataclass(frozen=True)
class _EnvPart:
    name: str


class _Const:
    """A value that needs no context: rendered as is."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


_Node: TypeAlias = "_Const | Render"
_Part: TypeAlias = "str | _RefPart | _EnvPart"


class Template:
    """A compiled YAML value; :meth:`render` fills in its placeholders from a request's context."""

    __slots__ = ("_constant", "_render", "_whole", "env_names", "refs", "source")

    def __init__(self, source: Any, node: _Node, refs: set[Ref], env_names: set[str], whole: str | None) -> None:
        self.source = source  # as written: ${NAME} stays, so showing it never shows a secret
        self.refs: frozenset[Ref] = frozenset(refs)
        self.env_names: frozenset[str] = frozenset(env_names)  # still to fill in with with_env
        self._whole = whole
        self._constant = isinstance(node, _Const)
        self._render: Render = _call(node)

    @classmethod
    def compile(cls, value: Any, where: str) -> Template:
        """Read a JSON-like value once; a bad placeholder is a ConfigError naming ``where``."""
        return cls._build(value, where, None)

    @classmethod
    def _build(cls, value: Any, where: str, env: Mapping[str, str] | None) -> Template:
        builder = _Builder(where, env)
        whole = None
        if isinstance(value, str):
            parts = builder.parts(value)
            whole = parts[0].label if len(parts) == 1 and isinstance(parts[0], _RefPart) else None
            node = builder.string(parts, text=False)
        else:
            node = builder.node(value)
        return cls(value, node, builder.refs, builder.env_names, whole)

    @property
    def is_constant(self) -> bool:
        """Nothing to fill in: every render returns the same value."""
        return self._constant

    def with_env(self, env: Mapping[str, str], where: str) -> Template:
        """This template with every ``${NAME}`` read from ``env``; a missing one is a ConfigError."""
        if not self.env_names:
            return self
        missing = sorted(name for name in self.env_names if name not in env)
        if missing:
            names = ", ".join(f"${{{name}}}" for name in missing)
            raise ConfigError(f"{where}: {names} {'is' if len(missing) == 1 else 'are'} not set in the environment")
        return self._build(self.source, where, env)

    def render(self, context: Mapping[str, Any]) -> Any:
        """The value for one request; ``context`` holds ``row`` (a dict or None), ``vars`` and ``id``."""
        return self._render(context)

    def describe(self) -> str:
        """How a check shows this operand: ``row.label`` for ``{{ row.label }}``, else the value as JSON."""
        if self._whole is not None:
            return self._whole
        return json.dumps(self.source, ensure_ascii=False, default=str)

    def __repr__(self) -> str:
        return f"Template({self.source!r})"


def _call(node: _Node) -> Render:
    if isinstance(node, _Const):
        value = node.value
        return lambda _context: value
    return node


class _Builder:
    """Turns one value into render functions, noting the references and environment names it meets."""

    def __init__(self, where: str, env: Mapping[str, str] | None) -> None:
        self.where = where
        self.env = env
        self.refs: set[Ref] = set()
        self.env_names: set[str] = set()

    def node(self, value: Any) -> _Node:
        if isinstance(value, str):
            return self.string(self.parts(value), text=False)
        if isinstance(value, dict):
            return self._dict(value)
        if isinstance(value, list):
            return self._list(value)
        return _Const(value)

    def _dict(self, value: dict[Any, Any]) -> _Node:
        pairs = [(self.string(self.parts(k), text=True) if isinstance(k, str) else _Const(k), self.node(v))
                 for k, v in value.items()]  # fmt: skip
        keys = [k.value for k, _ in pairs if isinstance(k, _Const)]
        constants = [v.value for _, v in pairs if isinstance(v, _Const)]
        if len(keys) == len(constants) == len(pairs):
            return _Const(dict(zip(keys, constants, strict=True)))
        if len(keys) == len(pairs):
            fixed = tuple(zip(keys, [_call(v) for _, v in pairs], strict=True))
            return lambda context: {k: v(context) for k, v in fixed}
        items = tuple((_call(k), _call(v)) for k, v in pairs)
        return lambda context: {k(context): v(context) for k, v in items}

    def _list(self, value: list[Any]) -> _Node:
        nodes = [self.node(item) for item in value]
        constants = [n.value for n in nodes if isinstance(n, _Const)]
        if len(constants) == len(nodes):
            return _Const(constants)
        calls = tuple(_call(n) for n in nodes)
        return lambda context: [call(context) for call in calls]

    def string(self, parts: list[_Part], text: bool) -> _Node:
        """``text``: always a string (a dict key); else a lone placeholder gives its value as is."""
        getters = [self._getter(p) for p in parts if not isinstance(p, str)]
        if not getters:
            return _Const("".join(p for p in parts if isinstance(p, str)))
        if len(parts) == 1 and not text:
            return getters[0]
        fmt = "".join(p.replace("{", "{{").replace("}", "}}") if isinstance(p, str) else "{}" for p in parts)
        if len(getters) == 1:
            get = getters[0]
            return lambda context: fmt.format(as_text(get(context)))
        return lambda context: fmt.format(*[as_text(get(context)) for get in getters])

    def _getter(self, part: _RefPart | _EnvPart) -> Render:
        if isinstance(part, _RefPart):
            return part.get
        name = part.name

        def unfilled(_context: Mapping[str, Any]) -> Any:
            raise RuntimeError(f"${{{name}}} was not filled in: call Template.with_env before render")

        return unfilled

    def parts(self, text: str) -> list[_Part]:
        """A string as literal text (adjacent pieces merged), references and environment variables."""
        parts: list[_Part] = []
        pos = 0
        for match in _PIECES.finditer(text):
            _literal(parts, text[pos : match.start()])
            pos = match.end()
            piece, env_name, ref = match.group(0), match.group(1), match.group(2)
            if piece == "$${":
                _literal(parts, "${")
            elif env_name is not None:
                self._env(parts, env_name)
            elif ref is not None:
                parts.append(self._ref(ref))
            else:
                raise ConfigError(f"{self.where}: {_UNCLOSED[piece]}")
        _literal(parts, text[pos:])
        return parts or [""]

    def _env(self, parts: list[_Part], name: str) -> None:
        if not _ENV_NAME.fullmatch(name):
            raise ConfigError(f"{self.where}: ${{{' '.join(name.split())}}} is not an environment variable name "
                              "(letters, digits and _; write $${ for a literal ${)")  # fmt: skip
        if self.env is None:
            self.env_names.add(name)
            parts.append(_EnvPart(name))
        elif name in self.env:
            _literal(parts, self.env[name])
        else:
            raise ConfigError(f"{self.where}: ${{{name}}} is not set in the environment")

    def _ref(self, inner: str) -> _RefPart:
        shown = "{{ " + " ".join(inner.split()) + " }}" if inner.strip() else "{{ }}"
        text = inner.strip()
        root_match = _ROOT.match(text)
        if root_match is None:
            raise ConfigError(f"{self.where}: {shown} is not a placeholder; use {VALID_REFS}")
        root = root_match.group(0)
        if root not in ROOTS:
            raise ConfigError(f"{self.where}: {shown}: unknown name {root!r}; use {VALID_REFS}")
        try:
            steps = parse_steps(text[root_match.end() :])
        except ValueError as exc:
            raise ConfigError(f"{self.where}: {shown}: {exc}; use {VALID_REFS}") from None
        if root == "id" and steps:
            raise ConfigError(f"{self.where}: {shown}: id is a plain string, with no .field or [index]")
        if root == "vars" and (not steps or not isinstance(steps[0], str)):
            raise ConfigError(f"{self.where}: {shown}: name the variable, as in vars.NAME")
        self.refs.add((root, *steps))
        return _RefPart(label_of(root, steps), _getter(root, steps))


def _literal(parts: list[_Part], text: str) -> None:
    if not text:
        return
    if parts and isinstance(parts[-1], str):
        parts[-1] += text
    else:
        parts.append(text)


def _getter(root: str, steps: tuple[PathStep, ...]) -> Render:
    """A function that reads one reference from a context, or raises TemplateError saying what is missing."""
    count = len(steps)

    def get(context: Mapping[str, Any]) -> Any:
        value = context.get(root)
        if value is None:
            raise TemplateError(_unset(root))
        if not count:
            return value
        taken, found = follow(value, steps)
        if taken == count:
            return found
        raise TemplateError(_missing(root, steps, taken, found))

    return get


def _unset(root: str) -> str:
    if root == "row":
        return "row is not set (the service has no data feed)"
    return f"{root} is not set"


def _missing(root: str, steps: tuple[PathStep, ...], taken: int, value: Any) -> str:
    """Why ``steps[taken]`` could not be read from ``value``, in the user's words."""
    step, at = steps[taken], label_of(root, steps[:taken])
    if isinstance(step, str) and isinstance(value, Mapping):
        if taken == 0 and root == "row":
            return f"row has no column {step!r}"
        if taken == 0 and root == "vars":
            return f"vars has no {step!r} (no earlier step captured it)"
        return f"{at} has no field {step!r}"
    if isinstance(step, int) and isinstance(value, list | tuple):
        return f"{at} has no index {step} (it has {len(value)} items)"
    wanted = "an object" if isinstance(step, str) else "a list"
    return f"{at} is {type(value).__name__}, not {wanted}"
