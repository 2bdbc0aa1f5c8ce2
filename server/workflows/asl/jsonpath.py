"""Step Functions' JSONPath: parse once, select from input/context/variables, write ResultPath.

AWS evaluates paths with Jayway JsonPath (Java), so this module copies Jayway's semantics and
its error texts, which reach users verbatim in causes such as
"Invalid path '$.x' : No results for path: $['x']":

- A *definite* path (only fields and indexes) returns one value; a missing leaf gives
  "No results for path: $['a']['b']", a missing intermediate "Missing property in path $['a']".
- An *indefinite* path (`[*]`, `..`, `[?(...)]`, `[1:3]`, unions) returns a list, empty when
  nothing matches; it never fails, not even when the data above the wildcard is missing.
- Roots: `$` is the input, `$$` the context object, `$name` the variable `name`.
- Functions: a trailing `.length()` (array, object or string size).

The ASL spec ("Paths"): "A Path is a string, beginning with "$", used to identify components
with a JSON text. The syntax is that of JsonPath." and ("Reference Paths") "A Reference Path
is a Path with syntax limited in such a way that it can only identify a single node in a
JSON structure: The operators "@", ",", ":", and "?" are not supported".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Mapping, Union

from .errors import (
    STATES_REFERENCE_PATH_CONFLICT,
    STATES_RUNTIME,
    AslError,
    AslSyntaxError,
)

__all__ = [
    "Path",
    "PathNotFoundError",
    "is_path",
    "parse_path",
    "parse_reference_path",
    "resolve",
    "select",
    "select_reference",
    "set_path",
]

RootKind = Literal["input", "context", "variable"]

_VARIABLE_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT: Final = re.compile(r"-?\d+")


class _Undefined:
    """Jayway's UNDEFINED: "no such property", distinct from a JSON null."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Final = _Undefined()


class PathNotFoundError(AslError):
    """A path selected nothing; `detail` is Jayway's message, `path` the path text.

    Callers that word the cause themselves (Parameters, ItemsPath, ...) catch this and
    re-raise with their own text; everyone else lets it through as States.Runtime.
    """

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(STATES_RUNTIME, f"Invalid path '{path}' : {detail}")
        self.path = path
        self.detail = detail


# ---------------------------------------------------------------------------------------------
# Path segments (one class per Jayway token)


@dataclass(frozen=True, slots=True)
class Field:
    name: str

    @property
    def fragment(self) -> str:
        return f"['{self.name}']"

    definite: bool = field(default=True, init=False)


@dataclass(frozen=True, slots=True)
class Fields:
    """`['a','b']`: Jayway returns an object holding just those properties."""

    names: tuple[str, ...]

    @property
    def fragment(self) -> str:
        return "[" + ",".join(f"'{n}'" for n in self.names) + "]"

    definite: bool = field(default=False, init=False)


@dataclass(frozen=True, slots=True)
class Index:
    index: int

    @property
    def fragment(self) -> str:
        return f"[{self.index}]"

    definite: bool = field(default=True, init=False)


@dataclass(frozen=True, slots=True)
class Indexes:
    indexes: tuple[int, ...]

    @property
    def fragment(self) -> str:
        return "[" + ",".join(str(i) for i in self.indexes) + "]"

    definite: bool = field(default=False, init=False)


@dataclass(frozen=True, slots=True)
class Slice:
    start: int | None
    end: int | None

    @property
    def fragment(self) -> str:
        s = "" if self.start is None else str(self.start)
        e = "" if self.end is None else str(self.end)
        return f"[{s}:{e}]"

    definite: bool = field(default=False, init=False)


@dataclass(frozen=True, slots=True)
class Wildcard:
    @property
    def fragment(self) -> str:
        return "[*]"

    definite: bool = field(default=False, init=False)


@dataclass(frozen=True, slots=True)
class Filter:
    expression: _Expr
    text: str

    @property
    def fragment(self) -> str:
        return "[?]"

    definite: bool = field(default=False, init=False)


@dataclass(frozen=True, slots=True)
class Descendants:
    """`..x`: scan the whole subtree (pre-order) and apply `inner` at every node."""

    inner: Segment

    @property
    def fragment(self) -> str:
        return ".." + self.inner.fragment.lstrip(".")

    definite: bool = field(default=False, init=False)


@dataclass(frozen=True, slots=True)
class Function:
    name: str

    @property
    def fragment(self) -> str:
        return f".{self.name}()"

    definite: bool = field(default=True, init=False)


Segment = Union[Field, Fields, Index, Indexes, Slice, Wildcard, Filter, Descendants, Function]


@dataclass(frozen=True, slots=True)
class Path:
    """A parsed path. `root` says where it reads from; `variable` names the variable if any.

    `definite` (Jayway: only fields and indexes, so at most one node; a trailing `['a','b']`
    is definite too, it merges those properties into one object) and `simple` (only single
    fields and indexes: the fast path applies) are computed once, at construction.
    """

    text: str
    root: RootKind
    segments: tuple[Segment, ...]
    variable: str | None = None
    definite: bool = field(init=False, repr=False, compare=False)
    simple: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        last = len(self.segments) - 1
        definite = all(
            s.definite or (i == last and isinstance(s, Fields))
            for i, s in enumerate(self.segments)
        )
        object.__setattr__(self, "definite", definite)
        object.__setattr__(
            self, "simple", all(isinstance(s, (Field, Index)) for s in self.segments)
        )

    @property
    def is_reference(self) -> bool:
        """ASL Reference Path: input root, only single fields and indexes."""
        return self.root == "input" and all(
            isinstance(s, (Field, Index)) for s in self.segments
        )

    @property
    def jayway(self) -> str:
        """The normalised form Jayway prints in its messages: `$['a'][0]`."""
        head = {"input": "$", "context": "$$", "variable": f"${self.variable}"}[self.root]
        return head + "".join(s.fragment for s in self.segments)


# ---------------------------------------------------------------------------------------------
# Filter expressions: `[?(@.price > 10 && @.tag in ['a', 'b'])]`


@dataclass(frozen=True, slots=True)
class _Literal:
    value: Any


@dataclass(frozen=True, slots=True)
class _PathRef:
    relative: bool  # @ (current item) or $ (document root)
    path: Path


@dataclass(frozen=True, slots=True)
class _Regex:
    pattern: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class _Compare:
    op: str
    left: _Expr
    right: _Expr


@dataclass(frozen=True, slots=True)
class _Exists:
    ref: _PathRef


@dataclass(frozen=True, slots=True)
class _Not:
    operand: _Expr


@dataclass(frozen=True, slots=True)
class _Logical:
    op: Literal["&&", "||"]
    left: _Expr
    right: _Expr


_Expr = Union[_Literal, _PathRef, _Regex, _Compare, _Exists, _Not, _Logical]

_COMPARISON_OPS: Final = (
    "==",
    "!=",
    "<=",
    ">=",
    "=~",
    "<",
    ">",
)
_WORD_OPS: Final = ("subsetof", "anyof", "noneof", "contains", "empty", "size", "nin", "in")


# ---------------------------------------------------------------------------------------------
# Parser


class _Parser:
    def __init__(self, text: str, *, allow_variables: bool = True) -> None:
        self.text = text
        self.pos = 0
        self.allow_variables = allow_variables

    def error(self, what: str) -> AslSyntaxError:
        return AslSyntaxError(
            f"Invalid JSONPath '{self.text}': {what} at position {self.pos}"
        )

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos : self.pos + n]

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def skip_ws(self) -> None:
        while not self.at_end() and self.text[self.pos] in " \t\r\n":
            self.pos += 1

    def expect(self, token: str) -> None:
        if not self.text.startswith(token, self.pos):
            raise self.error(f"expected '{token}'")
        self.pos += len(token)

    # -- whole path -------------------------------------------------------------------------

    def parse(self) -> Path:
        root, variable = self.parse_root()
        segments = self.parse_segments(stop="")
        if not self.at_end():
            raise self.error(f"unexpected '{self.text[self.pos]}'")
        return Path(text=self.text, root=root, segments=tuple(segments), variable=variable)

    def parse_root(self) -> tuple[RootKind, str | None]:
        if not self.text.startswith("$", self.pos):
            raise self.error("a path must begin with '$'")
        self.pos += 1
        if self.peek() == "$":
            self.pos += 1
            return "context", None
        m = _VARIABLE_NAME.match(self.text, self.pos)
        if m:
            if not self.allow_variables:
                raise self.error("variables are not allowed here")
            self.pos = m.end()
            return "variable", m.group()
        return "input", None

    def parse_segments(self, stop: str) -> list[Segment]:
        """Segments up to the end of text, or (inside filters) up to a char in `stop`."""
        segments: list[Segment] = []
        while not self.at_end():
            c = self.text[self.pos]
            if stop and (c in stop or c in " \t\r\n"):
                break
            if segments and isinstance(segments[-1], Function):
                raise self.error("a function must be the last part of a path")
            if self.text.startswith("..", self.pos):
                self.pos += 2
                if self.peek() == "[":
                    inner: Segment = self.parse_bracket()
                elif self.peek() == "*":
                    self.pos += 1
                    inner = Wildcard()
                else:
                    inner = Field(self.parse_name(stop))
                segments.append(Descendants(inner))
            elif c == ".":
                self.pos += 1
                if self.peek() == "*":
                    self.pos += 1
                    segments.append(Wildcard())
                elif self.peek() == "[":
                    segments.append(self.parse_bracket())
                else:
                    name = self.parse_name(stop)
                    if self.peek(2) == "()":
                        self.pos += 2
                        if name != "length":
                            raise self.error(f"unsupported function '{name}()'")
                        segments.append(Function(name))
                    else:
                        segments.append(Field(name))
            elif c == "[":
                segments.append(self.parse_bracket())
            else:
                raise self.error(f"unexpected '{c}'")
        return segments

    def parse_name(self, stop: str) -> str:
        start = self.pos
        while not self.at_end():
            c = self.text[self.pos]
            if c in ".[]()'\" \t\r\n" or (stop and c in stop):
                break
            self.pos += 1
        if self.pos == start:
            raise self.error("expected a property name")
        return self.text[start : self.pos]

    def parse_bracket(self) -> Segment:
        self.expect("[")
        self.skip_ws()
        c = self.peek()
        if c == "*":
            self.pos += 1
            self.skip_ws()
            self.expect("]")
            return Wildcard()
        if c == "?":
            self.pos += 1
            self.skip_ws()
            self.expect("(")
            start = self.pos
            expression = self.parse_or()
            text = self.text[start : self.pos]
            self.skip_ws()
            self.expect(")")
            self.skip_ws()
            self.expect("]")
            return Filter(expression, text.strip())
        if c in ("'", '"'):
            names = [self.parse_quoted()]
            self.skip_ws()
            while self.peek() == ",":
                self.pos += 1
                self.skip_ws()
                names.append(self.parse_quoted())
                self.skip_ws()
            self.expect("]")
            return Field(names[0]) if len(names) == 1 else Fields(tuple(names))
        # indexes, unions of indexes, slices
        first = self.parse_opt_int()
        self.skip_ws()
        if self.peek() == ":":
            self.pos += 1
            self.skip_ws()
            end = self.parse_opt_int()
            self.skip_ws()
            self.expect("]")
            return Slice(first, end)
        if first is None:
            raise self.error("expected an index, a slice, '*', '?(...)' or a quoted name")
        indexes = [first]
        while self.peek() == ",":
            self.pos += 1
            self.skip_ws()
            nxt = self.parse_opt_int()
            if nxt is None:
                raise self.error("expected an index")
            indexes.append(nxt)
            self.skip_ws()
        self.expect("]")
        return Index(indexes[0]) if len(indexes) == 1 else Indexes(tuple(indexes))

    def parse_opt_int(self) -> int | None:
        m = _INT.match(self.text, self.pos)
        if not m:
            return None
        self.pos = m.end()
        return int(m.group())

    def parse_quoted(self) -> str:
        """A quoted bracket name. Only an escaped delimiter is unescaped; other backslashes
        stay, as AWS reads `$['Test\\""Name"']` as the key `Test\\""Name"` (recorded)."""
        quote = self.text[self.pos]
        self.pos += 1
        out: list[str] = []
        while True:
            if self.at_end():
                raise self.error("unterminated quoted name")
            c = self.text[self.pos]
            if c == "\\" and self.pos + 1 < len(self.text):
                nxt = self.text[self.pos + 1]
                out.append(nxt if nxt == quote else c + nxt)
                self.pos += 2
                continue
            if c == quote:
                self.pos += 1
                return "".join(out)
            out.append(c)
            self.pos += 1

    # -- filter expressions -------------------------------------------------------------------

    def parse_or(self) -> _Expr:
        left = self.parse_and()
        while True:
            self.skip_ws()
            if self.peek(2) == "||":
                self.pos += 2
                left = _Logical("||", left, self.parse_and())
            else:
                return left

    def parse_and(self) -> _Expr:
        left = self.parse_not()
        while True:
            self.skip_ws()
            if self.peek(2) == "&&":
                self.pos += 2
                left = _Logical("&&", left, self.parse_not())
            else:
                return left

    def parse_not(self) -> _Expr:
        self.skip_ws()
        if self.peek() == "!" and self.peek(2) != "!=":
            self.pos += 1
            return _Not(self.parse_not())
        return self.parse_comparison()

    def parse_comparison(self) -> _Expr:
        self.skip_ws()
        if self.peek() == "(":
            self.pos += 1
            inner = self.parse_or()
            self.skip_ws()
            self.expect(")")
            return inner
        left = self.parse_operand()
        self.skip_ws()
        op = self.parse_operator()
        if op is None:
            if isinstance(left, _PathRef):
                return _Exists(left)
            if isinstance(left, _Literal) and isinstance(left.value, bool):
                return left
            raise self.error("expected a comparison operator")
        self.skip_ws()
        right = self.parse_operand()
        if op == "=~" and not isinstance(right, _Regex):
            raise self.error("'=~' needs a /regex/ on its right")
        return _Compare(op, left, right)

    def parse_operator(self) -> str | None:
        for op in _COMPARISON_OPS:
            if self.text.startswith(op, self.pos):
                self.pos += len(op)
                return op
        for word in _WORD_OPS:
            end = self.pos + len(word)
            if self.text.startswith(word, self.pos) and (
                end >= len(self.text) or not self.text[end].isalnum()
            ):
                self.pos = end
                return word
        return None

    def parse_operand(self) -> _Expr:
        self.skip_ws()
        c = self.peek()
        if c == "@" or c == "$":
            relative = c == "@"
            start = self.pos
            self.pos += 1
            root: RootKind = "input"
            variable = None
            if not relative:
                self.pos = start
                root, variable = self.parse_root()
            segments = self.parse_segments(stop=")=!<>&|, ]~")
            text = self.text[start : self.pos]
            return _PathRef(relative, Path(text, root, tuple(segments), variable))
        if c in ("'", '"'):
            return _Literal(self.parse_quoted())
        if c == "/":
            return self.parse_regex()
        if c == "[":
            return _Literal(self.parse_array_literal())
        m = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?").match(self.text, self.pos)
        if m:
            self.pos = m.end()
            text = m.group()
            return _Literal(float(text) if any(ch in text for ch in ".eE") else int(text))
        for word, value in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return _Literal(value)
        raise self.error("expected a value, '@' or '$'")

    def parse_array_literal(self) -> list[Any]:
        self.expect("[")
        values: list[Any] = []
        self.skip_ws()
        if self.peek() == "]":
            self.pos += 1
            return values
        while True:
            item = self.parse_operand()
            if not isinstance(item, _Literal):
                raise self.error("array literals may only hold literal values")
            values.append(item.value)
            self.skip_ws()
            if self.peek() == ",":
                self.pos += 1
                continue
            self.expect("]")
            return values

    def parse_regex(self) -> _Regex:
        self.expect("/")
        out: list[str] = []
        while True:
            if self.at_end():
                raise self.error("unterminated regex")
            c = self.text[self.pos]
            if c == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos : self.pos + 2])
                self.pos += 2
                continue
            self.pos += 1
            if c == "/":
                break
            out.append(c)
        flags = 0
        while not self.at_end() and self.text[self.pos] in "imsx":
            flags |= {"i": re.I, "m": re.M, "s": re.S, "x": re.X}[self.text[self.pos]]
            self.pos += 1
        try:
            return _Regex(re.compile("".join(out), flags))
        except re.error as exc:
            raise self.error(f"bad regex ({exc})") from None


_CACHE: dict[str, Path] = {}
_CACHE_LIMIT: Final = 4096


def parse_path(text: str) -> Path:
    """Parse a JSONPath (`$...`), a context path (`$$...`) or a variable path (`$name...`).

    Args:
        text: the path as written in the definition.

    Returns:
        The parsed `Path`; parses are cached, so calling this per evaluation is cheap.

    Raises:
        AslSyntaxError: the text is not a path Step Functions accepts.
    """
    if not isinstance(text, str):
        raise AslSyntaxError(f"A JSONPath must be a string, got {type(text).__name__}")
    cached = _CACHE.get(text)
    if cached is not None:
        return cached
    try:
        path = _Parser(text).parse()
    except RecursionError:
        raise AslSyntaxError(f"Invalid JSONPath '{text[:80]}...': nested too deeply") from None
    if len(_CACHE) >= _CACHE_LIMIT:
        _CACHE.clear()
    _CACHE[text] = path
    return path


def parse_reference_path(text: str) -> Path:
    """Parse a Reference Path (ResultPath): `$`, `$.a.b`, `$['a']`, `$.a[0]` only.

    Raises:
        AslSyntaxError: not a path, or it uses operators a Reference Path forbids.
    """
    path = parse_path(text)
    if not path.is_reference:
        raise AslSyntaxError(
            f"Invalid Reference Path '{text}': a ResultPath may only use '$', "
            "field names and array indexes"
        )
    return path


def is_path(text: object) -> bool:
    """True if `text` parses as a path (input, context or variable)."""
    if not isinstance(text, str) or not text.startswith("$"):
        return False
    try:
        parse_path(text)
    except AslSyntaxError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Evaluation

_JAVA_TYPES: Final = {
    str: "java.lang.String",
    bool: "java.lang.Boolean",
    int: "java.lang.Integer",
    float: "java.lang.Double",
    list: "java.util.ArrayList",
}


def _java_class(value: Any) -> str:
    if value is None:
        return "null"
    return _JAVA_TYPES.get(type(value), "java.lang.Object")


def _java_str(value: Any) -> str:
    """Java's toString of a parsed JSON value, as Jayway prints a context in messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_java_str(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_java_str(v) for v in value) + "]"
    return str(value)


class _Evaluation:
    """One walk of a path over a document, collecting (value, jayway path) hits."""

    def __init__(self, path: Path, root: Any, text: str) -> None:
        self.path = path
        self.root = root
        self.text = text
        self.hits: list[tuple[Any, str]] = []

    def fail(self, detail: str) -> PathNotFoundError:
        return PathNotFoundError(self.text, detail)

    def run(self, value: Any, head: str) -> None:
        self.walk(value, head, 0, upstream_definite=True)

    def walk(self, model: Any, current: str, i: int, *, upstream_definite: bool) -> None:
        segments = self.path.segments
        if i == len(segments):
            self.hits.append((model, current))
            return
        seg = segments[i]
        leaf = i == len(segments) - 1
        nxt_definite = upstream_definite and seg.definite
        if isinstance(seg, Field):
            if not isinstance(model, dict):
                if upstream_definite:
                    raise self.fail(
                        f"Expected to find an object with property {seg.fragment} in path "
                        f"{current} but found '{_java_class(model)}'. This is not a json object "
                        "according to the JsonProvider: "
                        "'com.jayway.jsonpath.spi.json.JacksonJsonNodeJsonProvider'."
                    )
                return
            here = current + seg.fragment
            if seg.name not in model:
                if leaf or not upstream_definite:
                    return
                raise self.fail(f"Missing property in path {here}")
            self.walk(model[seg.name], here, i + 1, upstream_definite=nxt_definite)
        elif isinstance(seg, Fields):
            if not isinstance(model, dict):
                return
            picked = {n: model[n] for n in seg.names if n in model}
            if leaf:
                self.hits.append((picked, current + seg.fragment))
            else:
                for n in seg.names:
                    if n in model:
                        self.walk(model[n], f"{current}['{n}']", i + 1, upstream_definite=False)
        elif isinstance(seg, (Index, Indexes, Slice)):
            if not self.check_array(model, current, seg, upstream_definite):
                return
            assert isinstance(model, list)
            if isinstance(seg, Index):
                idx = seg.index + len(model) if seg.index < 0 else seg.index
                if 0 <= idx < len(model):
                    self.walk(model[idx], current + f"[{idx}]", i + 1, upstream_definite=nxt_definite)
            elif isinstance(seg, Indexes):
                for raw in seg.indexes:
                    idx = raw + len(model) if raw < 0 else raw
                    if 0 <= idx < len(model):
                        self.walk(model[idx], current + f"[{idx}]", i + 1, upstream_definite=False)
            else:
                for idx in range(len(model))[slice(seg.start, seg.end)]:
                    self.walk(model[idx], current + f"[{idx}]", i + 1, upstream_definite=False)
        elif isinstance(seg, Wildcard):
            if isinstance(model, dict):
                for k, v in model.items():
                    self.walk(v, f"{current}['{k}']", i + 1, upstream_definite=False)
            elif isinstance(model, list):
                for idx, v in enumerate(model):
                    self.walk(v, f"{current}[{idx}]", i + 1, upstream_definite=False)
        elif isinstance(seg, Filter):
            if isinstance(model, list):
                for idx, v in enumerate(model):
                    if _test(seg.expression, v, self.root):
                        self.walk(v, f"{current}[{idx}]", i + 1, upstream_definite=False)
            elif isinstance(model, dict):
                if _test(seg.expression, model, self.root):
                    self.walk(model, current, i + 1, upstream_definite=False)
            elif upstream_definite:
                raise self.fail(
                    f"Filter: [?] can not be applied to primitives. Current context is: "
                    f"{_java_str(model)}"
                )
        elif isinstance(seg, Descendants):
            self.scan(model, current, i, seg.inner)
        elif isinstance(seg, Function):  # pragma: no cover - handled in _evaluate
            raise AssertionError("functions are applied after the walk")

    def check_array(self, model: Any, current: str, seg: Segment, upstream_definite: bool) -> bool:
        if isinstance(model, list):
            return True
        if not upstream_definite:
            return False
        if model is None:
            raise self.fail(f"The path {current} is null")
        raise self.fail(
            f"Filter: {seg.fragment} can only be applied to arrays. Current context is: "
            f"{_java_str(model)}"
        )

    def scan(self, model: Any, current: str, i: int, inner: Segment) -> None:
        """Jayway's ScanPathToken: apply `inner` (then the rest) at every node, pre-order."""
        segments = (inner,) + self.path.segments[i + 1 :]
        sub = _Evaluation(
            Path(self.path.text, self.path.root, segments, self.path.variable), self.root, self.text
        )
        stack: list[tuple[Any, str]] = [(model, current)]
        while stack:
            node, where = stack.pop()
            sub.walk(node, where, 0, upstream_definite=False)
            if isinstance(node, dict):
                stack.extend(reversed([(v, f"{where}['{k}']") for k, v in node.items()]))
            elif isinstance(node, list):
                stack.extend(reversed([(v, f"{where}[{n}]") for n, v in enumerate(node)]))
        self.hits.extend(sub.hits)


def _fast_definite(segments: tuple[Segment, ...], root: Any) -> Any:
    """The common case (fields and indexes, all present) without building hit lists;
    UNDEFINED sends the caller to the full walk, which words the error."""
    node = root
    for seg in segments:
        if isinstance(seg, Field):
            if not isinstance(node, dict) or seg.name not in node:
                return UNDEFINED
            node = node[seg.name]
        elif isinstance(seg, Index):
            if not isinstance(node, list):
                return UNDEFINED
            idx = seg.index + len(node) if seg.index < 0 else seg.index
            if not 0 <= idx < len(node):
                return UNDEFINED
            node = node[idx]
        else:
            return UNDEFINED
    return node


def _evaluate(path: Path, root: Any, *, text: str | None = None) -> Any:
    """Select with Jayway semantics; definite → the value, indefinite → a list."""
    if path.simple:
        found = _fast_definite(path.segments, root)
        if found is not UNDEFINED:
            return found
    shown = path.text if text is None else text
    segments = path.segments
    function: Function | None = None
    if segments and isinstance(segments[-1], Function):
        function = segments[-1]
        path = Path(path.text, path.root, segments[:-1], path.variable)
    head = {"input": "$", "context": "$$", "variable": f"${path.variable}"}[path.root]
    ev = _Evaluation(path, root, shown)
    try:
        ev.run(root, head)
    except PathNotFoundError:
        # AWS (recorded): an indefinite path over missing data gives [], e.g. `$.items[*]`
        # on `{}`, where Jayway alone would report "Missing property in path $['items']".
        if path.definite:
            raise
    if path.definite:
        if not ev.hits:
            raise PathNotFoundError(shown, f"No results for path: {path.jayway}")
        value: Any = ev.hits[0][0]
    else:
        value = [v for v, _ in ev.hits]
    if function is not None:
        if isinstance(value, (list, dict, str)):
            return len(value)
        raise PathNotFoundError(
            shown, f"Function of type length() cannot be applied to {_java_str(value)}"
        )
    return value


def select(path_or_text: Path | str, data: Any) -> Any:
    """Apply a path to `data`, whatever its root names (the caller picked the document).

    Args:
        path_or_text: a parsed `Path` or its text.
        data: the JSON document (parsed: dict, list, str, int, float, bool, None).

    Returns:
        For a definite path the selected value; otherwise a list of all matches (maybe empty).

    Raises:
        AslSyntaxError: the text does not parse.
        PathNotFoundError: (an AslError, States.Runtime) a definite path selects nothing; the
            cause is AWS's "Invalid path '$.x' : No results for path: $['x']".
    """
    path = parse_path(path_or_text) if isinstance(path_or_text, str) else path_or_text
    return _evaluate(path, data)


def resolve(
    text: Path | str,
    *,
    input: Any,
    context: Any = None,
    variables: Mapping[str, Any] | None = None,
) -> Any:
    """Evaluate a path against the document its root names: `$` input, `$$` context, `$x` variable.

    Raises:
        AslSyntaxError: the text does not parse.
        PathNotFoundError: the path selects nothing, or names an unassigned variable.
    """
    path = parse_path(text) if isinstance(text, str) else text
    if path.root == "input":
        return _evaluate(path, input)
    if path.root == "context":
        return _evaluate(path, context)
    assert path.variable is not None
    if variables is None or path.variable not in variables:
        raise PathNotFoundError(
            path.text, f"The variable '{path.variable}' is not defined"
        )
    return _evaluate(path, variables[path.variable])


# ---------------------------------------------------------------------------------------------
# Filter evaluation (Jayway's EvaluatorFactory semantics)


def _operand(expr: _Expr, item: Any, root: Any) -> Any:
    if isinstance(expr, _Literal):
        return expr.value
    if isinstance(expr, _PathRef):
        base = item if expr.relative else root
        try:
            return _evaluate(expr.path, base)
        except AslError:
            return UNDEFINED
    if isinstance(expr, _Regex):
        return expr.pattern
    return _test(expr, item, root)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _equal(a: Any, b: Any) -> bool:
    if a is UNDEFINED or b is UNDEFINED:
        return False
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if type(a) is not type(b) and not (_is_number(a) and _is_number(b)):
        return False
    return bool(a == b)


def _less(a: Any, b: Any) -> bool | None:
    if _is_number(a) and _is_number(b):
        return bool(a < b)
    if isinstance(a, str) and isinstance(b, str):
        return a < b
    return None


def _compare(op: str, a: Any, b: Any) -> bool:
    if op == "==":
        return _equal(a, b)
    if op == "!=":
        return not _equal(a, b)
    if op in ("<", "<=", ">", ">="):
        lt = _less(a, b)
        if lt is None:
            return False
        eq = _equal(a, b)
        return {"<": lt, "<=": lt or eq, ">": not lt and not eq, ">=": not lt}[op]
    if op == "=~":
        return isinstance(a, str) and isinstance(b, re.Pattern) and b.fullmatch(a) is not None
    if op == "in":
        return isinstance(b, list) and any(_equal(a, x) for x in b)
    if op == "nin":
        return isinstance(b, list) and not any(_equal(a, x) for x in b)
    if op == "subsetof":
        return isinstance(a, list) and isinstance(b, list) and all(
            any(_equal(x, y) for y in b) for x in a
        )
    if op == "anyof":
        return isinstance(a, list) and isinstance(b, list) and any(
            any(_equal(x, y) for y in b) for x in a
        )
    if op == "noneof":
        return isinstance(a, list) and isinstance(b, list) and not any(
            any(_equal(x, y) for y in b) for x in a
        )
    if op == "contains":
        if isinstance(a, list):
            return any(_equal(x, b) for x in a)
        return isinstance(a, str) and isinstance(b, str) and b in a
    if op == "size":
        return isinstance(a, (list, str)) and _is_number(b) and len(a) == b
    if op == "empty":
        return isinstance(a, (list, str)) and isinstance(b, bool) and (len(a) == 0) == b
    return False  # pragma: no cover - the parser only builds known operators


def _test(expr: _Expr, item: Any, root: Any) -> bool:
    if isinstance(expr, _Logical):
        if expr.op == "&&":
            return _test(expr.left, item, root) and _test(expr.right, item, root)
        return _test(expr.left, item, root) or _test(expr.right, item, root)
    if isinstance(expr, _Not):
        return not _test(expr.operand, item, root)
    if isinstance(expr, _Exists):
        value = _operand(expr.ref, item, root)
        if value is UNDEFINED:
            return False
        return not (isinstance(value, list) and not expr.ref.path.definite and not value)
    if isinstance(expr, _Compare):
        return _compare(expr.op, _operand(expr.left, item, root), _operand(expr.right, item, root))
    if isinstance(expr, _Literal):
        return expr.value is True
    return False


# ---------------------------------------------------------------------------------------------
# ResultPath


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _conflict(step: Segment, data: Any) -> AslError:
    name = step.name if isinstance(step, Field) else str(step.index) if isinstance(step, Index) else "?"
    return AslError(
        STATES_REFERENCE_PATH_CONFLICT, f'Unable to apply step "{name}" to input {_compact(data)}'
    )


def _as_reference(reference_path: Path | str) -> Path:
    path = (
        parse_reference_path(reference_path)
        if isinstance(reference_path, str)
        else reference_path
    )
    if not path.is_reference:
        raise AslSyntaxError(f"Invalid Reference Path '{path.text}'")
    return path


def select_reference(reference_path: Path | str, data: Any) -> Any:
    """Read a Reference Path the way AWS reads ItemsPath: a missing or non-object step fails
    with States.ReferencePathConflict, 'Unable to apply step "objects" to input {...}'
    (published AWS failures of `ItemsPath: $.discovery.objects` and `$.jobs`), where InputPath
    and OutputPath (use `select`) say "Invalid path ... No results for path".

    Raises:
        AslSyntaxError: not a Reference Path.
        AslError: States.ReferencePathConflict.
    """
    path = _as_reference(reference_path)
    node = data
    for seg in path.segments:
        if isinstance(seg, Field):
            if not isinstance(node, dict) or seg.name not in node:
                raise _conflict(seg, data)
            node = node[seg.name]
        else:
            assert isinstance(seg, Index)
            if not isinstance(node, list):
                raise _conflict(seg, data)
            idx = seg.index + len(node) if seg.index < 0 else seg.index
            if not 0 <= idx < len(node):
                raise _conflict(seg, data)
            node = node[idx]
    return node


def set_path(data: Any, reference_path: Path | str | None, value: Any) -> Any:
    """Write `value` into `data` at a Reference Path, as ResultPath does; `data` is not mutated.

    The ASL spec ("ResultPath"): "If the ResultPath's value is a Reference Path [...] the
    result is placed there, creating fields as needed"; `null` discards the result and `$`
    replaces the whole input.

    Args:
        data: the state's raw input.
        reference_path: `$`, `$.a.b`, `$['a']`, `$.a[0]`, or None (discard the result).
        value: the state's result.

    Returns:
        The new document (shared structure where untouched).

    Raises:
        AslSyntaxError: not a Reference Path.
        AslError: States.ReferencePathConflict when the path crosses a non-object, as AWS
            reports it: 'Unable to apply step "b" to input {"a":1}' (the spec names
            States.ResultPathMatchFailure, which AWS does not raise here).
    """
    if reference_path is None:
        return data
    path = _as_reference(reference_path)
    if not path.segments:
        return value

    def put(node: Any, i: int) -> Any:
        seg = path.segments[i]
        last = i == len(path.segments) - 1
        if isinstance(seg, Field):
            if node is UNDEFINED:  # missing: create it; a JSON null is a value, not an object
                node = {}
            if not isinstance(node, dict):
                raise _conflict(seg, data)
            new = dict(node)
            new[seg.name] = value if last else put(node.get(seg.name, UNDEFINED), i + 1)
            return new
        assert isinstance(seg, Index)
        if not isinstance(node, list):
            raise _conflict(seg, data)
        idx = seg.index + len(node) if seg.index < 0 else seg.index
        if not 0 <= idx < len(node):
            raise _conflict(seg, data)
        new_list = list(node)
        new_list[idx] = value if last else put(node[idx], i + 1)
        return new_list

    return put(data, 0)
