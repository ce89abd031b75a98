"""ODK XPath expressions: parsed by elementpath, evaluated by libxml2 through lxml.

An XLSForm expression such as ``${age} >= 60 and selected(${needs}, 'meals')`` goes through
three steps, once per form:

1. ``${name}`` references become absolute paths into the form's instance (``/data/age``),
   the way pyxform writes them into an XForm.
2. elementpath's XPath 1.0 parser, extended with the ODK function names, parses the result.
   Unknown functions and syntax errors are found here, at import, not while a resident types.
3. The parse tree is written back out as XPath 1.0 for lxml, with two ODK rules that plain
   XPath 1.0 lacks: dates compare and subtract as days since 1970-01-01, and ``round`` and
   ``position`` take the extra argument ODK gives them. lxml compiles it; evaluation is C.

The ODK functions themselves are Python callbacks registered as lxml extension functions.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import re
import string
import uuid as uuid_module
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache, lru_cache
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

from surveys.clock import format_datetime, local, now_local

if TYPE_CHECKING:
    from lxml import etree


def lxml_etree() -> ModuleType:
    """lxml's etree, loaded when the first instance is made or expression evaluated rather
    than with this module: the kiosk's home screen is drawn before either (a cold start was
    10 ms longer for it)."""
    from lxml import etree

    return etree


JR_NAMESPACE = "http://openrosa.org/javarosa"
NAMESPACES = {"jr": JR_NAMESPACE}
# The kiosk keeps the session language on the instance root so that jr:choice-name can
# answer in the resident's language without a global.
LANG_ATTRIBUTE = "{urn:shegong-kiosk}lang"

REFERENCE = re.compile(r"\$\{([^}]*)\}")

# ODK functions: name -> (min args, max args or None). Functions already in XPath 1.0 with
# the same meaning (concat, contains, not, count, sum, ...) are not listed.
ODK_FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "selected": (2, 2),
    "count-selected": (1, 1),
    "selected-at": (2, 2),
    "if": (3, 3),
    "coalesce": (2, 2),
    "boolean-from-string": (1, 1),
    "regex": (2, 2),
    "substr": (2, 3),
    "int": (1, 1),
    "count-non-empty": (1, 1),
    "min": (1, None),
    "max": (1, None),
    "today": (0, 0),
    "now": (0, 0),
    "date": (1, 1),
    "date-time": (1, 1),
    "decimal-date-time": (1, 1),
    "decimal-time": (1, 1),
    "format-date": (2, 2),
    "format-date-time": (2, 2),
    "once": (1, 1),
    "uuid": (0, 1),
    "abs": (1, 1),
    "pow": (2, 2),
    "log": (1, 1),
    "log10": (1, 1),
    "exp": (1, 1),
    "exp10": (1, 1),
    "sqrt": (1, 1),
    "ends-with": (2, 2),
    "join": (2, None),
    "random": (0, 0),
    # indexed-repeat(value, repeat1, index1[, repeat2, index2 …]): one instance's value.
    "indexed-repeat": (3, None),
    # instance('households')/root/item[name=${household}]/plan is written as
    # entity-value('households', ${household}, 'plan') before parsing (rewrite_instances).
    "entity-value": (3, 3),
    # ODK extends these XPath 1.0 functions: round and position take an optional argument,
    # concat takes one argument and node-sets, number converts dates.
    "round": (1, 2),
    "position": (0, 1),
    "concat": (1, None),
    "number": (0, 1),
}
# XPath 1.0 functions whose ODK form differs: lxml cannot redefine a libxml2 built-in,
# so the translated expression calls our version under another name.
RENAMED = {
    "round": "odk-round", "position": "odk-position", "concat": "odk-concat",
    "number": "odk-number",
}
JR_FUNCTIONS: dict[str, tuple[int, int | None]] = {"choice-name": (2, 2)}

ENTITY_ATTRIBUTE = "{urn:shegong-kiosk}entities"
# Which register each session reads, by the key its instance root carries (as the language
# is carried for jr:choice-name); sessions come and go, so the table forgets them.
_ENTITY_SOURCES: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()

# Functions whose result is a date or time, so relational operators and arithmetic
# around them use ODK's day-number rule.
DATE_FUNCTIONS = {"today", "now", "date", "date-time"}
DATE_PASSTHROUGH = {"if", "coalesce", "once"}
RELATIONAL = {"<", "<=", ">", ">="}
ARITHMETIC = {"+", "-", "*", "div", "mod"}
BINARY = RELATIONAL | ARITHMETIC | {"=", "!=", "and", "or", "|"}


class ExpressionError(ValueError):
    """An expression that cannot be parsed or refers to something that does not exist."""


def _arity(minimum: int, maximum: int | None) -> int | tuple[int, int | None]:
    return minimum if minimum == maximum else (minimum, maximum)


def _comparison(bp: int) -> Callable[[Any, Any], Any]:
    def led(self: Any, left: Any) -> Any:
        self[:] = left, self.parser.expression(rbp=bp)
        return self

    return led


@cache
def _parser() -> Any:
    """elementpath's XPath 1.0 parser taught the ODK function names (parsing only).

    Built on first use: only importing a form parses expressions, so a kiosk that runs
    compiled forms never loads elementpath.
    """
    from elementpath import XPath1Parser
    from elementpath.tdop import Parser as TdopParser

    class ODKParser(XPath1Parser):
        DEFAULT_NAMESPACES: ClassVar[dict[str, str]] = {
            **XPath1Parser.DEFAULT_NAMESPACES, "jr": JR_NAMESPACE,
        }

        def parse(self, source: str):  # type: ignore[override]
            # Skip elementpath's static evaluation: lxml evaluates, elementpath parses.
            if self.tokenizer is None:
                self.tokenizer = self.create_tokenizer(self.symbol_table)
            return TdopParser.parse(self, source)

    for name in RENAMED:
        ODKParser.symbol_table.pop(name, None)
    for name, (low, high) in ODK_FUNCTIONS.items():
        ODKParser.function(name, nargs=_arity(low, high))
    for name, (low, high) in JR_FUNCTIONS.items():
        ODKParser.function(name, prefix="jr", nargs=_arity(low, high))
    # elementpath gives = != < > <= >= one binding power and refuses chains (XPath 2.0's
    # rule); XPath 1.0 binds relational tighter than equality and chains both to the left,
    # so "1 < 2 = true()" is (1 < 2) = true().
    for symbol, bp in (("=", 30), ("!=", 30), ("<", 35), (">", 35), ("<=", 35), (">=", 35)):
        ODKParser.symbol_table.pop(symbol)
        ODKParser.register(symbol, label="operator", lbp=bp, rbp=bp, led=_comparison(bp))
    return ODKParser()


# --------------------------------------------------------------------------------------
# Translation: XLSForm text -> XPath 1.0 for lxml


@dataclass(frozen=True)
class Translated:
    """An XLSForm expression made ready for lxml, with the questions it reads."""

    xpath: str
    references: frozenset[str]
    is_date: bool = False


@dataclass
class TranslationContext:
    """What the translator must know about the form."""

    paths: Mapping[str, str]  # question name -> absolute path
    date_paths: set[str] = field(default_factory=set)  # paths whose values are dates/times
    variables: bool = False  # ${name} -> $name (choice filters run with a choice as context)
    # Inside a repeat, ${name} of the same instance is a relative path (``paths``); the
    # arguments of indexed-repeat() name whole repeats, so they stay absolute.
    absolute: Mapping[str, str] | None = None


def substitute_references(text: str, ctx: TranslationContext) -> tuple[str, frozenset[str]]:
    """Replace every ``${name}`` by its path (or XPath variable) and list the names."""
    names: set[str] = set()
    spans = _indexed_repeat_spans(text) if ctx.absolute is not None else []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if name not in ctx.paths:
            raise ExpressionError(f"${{{name}}} does not name a question in this form")
        names.add(name)
        if ctx.variables:
            return f"${name}"
        if ctx.absolute is not None and any(start <= match.start() < end
                                            for start, end in spans):
            return ctx.absolute[name]
        return ctx.paths[name]

    return REFERENCE.sub(replace, text), frozenset(names)


_INDEXED_REPEAT = re.compile(r"indexed-repeat\s*\(")


def _closing(text: str, start: int, opening: str, closing: str) -> int:
    """Where the bracket opened just before ``start`` closes (quoted text skipped), or -1
    when it never does."""
    depth, quote = 1, ""
    for index in range(start, len(text)):
        character = text[index]
        if quote:
            quote = "" if character == quote else quote
        elif character in "'\"":
            quote = character
        elif character == opening:
            depth += 1
        elif character == closing:
            depth -= 1
            if not depth:
                return index
    return -1


def _indexed_repeat_spans(text: str) -> list[tuple[int, int]]:
    """Where the arguments of each indexed-repeat( … ) call stand (quoted text skipped)."""
    spans = []
    for match in _INDEXED_REPEAT.finditer(text):
        end = _closing(text, match.end(), "(", ")")
        spans.append((match.end(), end + 1 if end >= 0 else len(text)))
    return spans


def parse(xpath: str):
    """Parse XPath 1.0 with the ODK functions; raise ExpressionError with the reason."""
    from elementpath.exceptions import ElementPathError

    try:
        return _parser().parse(xpath)
    except ElementPathError as error:
        message = getattr(error, "message", None) or str(error)
        message = re.sub(r"^\[err:\w+\]\s*", "", message)
        raise ExpressionError(message) from None
    except (TypeError, ValueError, KeyError, RecursionError) as error:
        raise ExpressionError(str(error) or type(error).__name__) from None


# The longest expression a form may hold, and how many brackets it may nest; a longer or
# deeper one is better split into calculates (deep nesting would exhaust the parser's and the
# evaluator's recursion, and no real form comes near either).
EXPRESSION_LIMIT = 4000
NESTING_LIMIT = 40


def nesting_depth(text: str) -> int:
    """How deep the brackets of an expression nest, quoted strings aside."""
    depth = deepest = 0
    quote = ""
    for character in text:
        if quote:
            if character == quote:
                quote = ""
        elif character in "'\"":
            quote = character
        elif character in "([":
            depth += 1
            deepest = max(deepest, depth)
        elif character in ")]":
            depth -= 1
    return deepest


_INSTANCE = re.compile(
    r"instance\s*\(\s*(['\"])([^'\"]*)\1\s*\)\s*/\s*root\s*/\s*item\s*\[\s*name\s*=\s*")
_PROPERTY = re.compile(r"\]\s*/\s*([A-Za-z_][A-Za-z0-9_.\-]*)")
INSTANCE_SUBSET = ("instance() is read only as instance('list')/root/item[name=${question}]/"
                   "property (instance() 只支持这种写法)")


def rewrite_instances(text: str) -> str:
    """``instance('households')/root/item[name=X]/plan`` -> ``entity-value('households', X,
    'plan')``: the one way ODK forms read a register that the kiosk runs, a lookup by id
    rather than a scan of every household. Any other use of instance() is refused."""
    out: list[str] = []
    index = 0
    while True:
        start = _find_outside_quotes(text, "instance", index)
        if start < 0:
            out.append(text[index:])
            return "".join(out)
        match = _INSTANCE.match(text, start)
        if match is None:
            raise ExpressionError(INSTANCE_SUBSET)
        dataset = match.group(2)
        cursor = _closing(text, match.end(), "[", "]")
        key = text[match.end():cursor].strip() if cursor >= 0 else ""
        tail = _PROPERTY.match(text, cursor) if cursor >= 0 else None
        if not key or tail is None:
            raise ExpressionError(INSTANCE_SUBSET)
        out.append(text[index:start])
        out.append(f"entity-value({_quote(dataset)}, {key}, {_quote(tail.group(1))})")
        index = tail.end()


def _find_outside_quotes(text: str, word: str, start: int) -> int:
    """Where ``word`` next stands outside quoted text, or -1."""
    quote = ""
    for index in range(start, len(text)):
        character = text[index]
        if quote:
            quote = "" if character == quote else quote
        elif character in "'\"":
            quote = character
        elif text.startswith(word, index) and (index == 0 or not (
                text[index - 1].isalnum() or text[index - 1] in "_-:")):
            return index
    return -1


def translate(text: str, ctx: TranslationContext) -> Translated:
    """Translate an XLSForm expression into XPath 1.0 that lxml evaluates with ODK rules."""
    if len(text) > EXPRESSION_LIMIT:
        raise ExpressionError(f"the expression is longer than {EXPRESSION_LIMIT:,} characters"
                              " (split it into calculates)")
    if nesting_depth(text) > NESTING_LIMIT:
        raise ExpressionError(f"the expression is nested too deeply (more than {NESTING_LIMIT}"
                              " brackets inside each other; split it into calculates)")
    substituted, names = substitute_references(rewrite_instances(text.strip()), ctx)
    tree = parse(substituted)
    emitter = _Emitter(ctx.date_paths)
    try:
        xpath = emitter.emit(tree)
        is_date = emitter.is_date(tree)
        patterns = list(_regex_patterns(tree))
    except RecursionError:
        raise ExpressionError("the expression is nested too deeply (split it into calculates)"
                              ) from None
    for pattern in patterns:
        problem = regex_problem(pattern)
        if problem is not None:
            raise ExpressionError(problem)
    return Translated(xpath=xpath, references=names, is_date=is_date)


def _regex_patterns(token: Any) -> Any:
    """The literal patterns of regex() calls in a parse tree."""
    if "function" in token.label and token.symbol == "regex" and len(token) == 2 \
            and token[1].symbol == "(string)":
        yield token[1].value
    for child in token:
        yield from _regex_patterns(child)


def _quote(value: str) -> str:
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    parts = value.split("'")
    return "concat(" + ", \"'\", ".join(f"'{part}'" for part in parts) + ")"


class _Emitter:
    """Writes an elementpath parse tree back out as XPath 1.0 for libxml2."""

    def __init__(self, date_paths: set[str]) -> None:
        self.date_paths = date_paths

    def is_date(self, token: Any) -> bool:
        symbol, label = token.symbol, token.label
        if "function" in label:
            name = token.symbol
            if name in DATE_FUNCTIONS:
                return True
            if name in DATE_PASSTHROUGH:
                args = list(token)[1:] if name == "if" else list(token)
                return any(self.is_date(arg) for arg in args)
            return False
        if symbol == "(" and len(token) == 1:
            return self.is_date(token[0])
        if symbol in ("/", "//", "(name)", ".", "$"):
            return token.source in self.date_paths
        return False

    def emit(self, token: Any) -> str:
        symbol, label = token.symbol, token.label
        if symbol == ":" and len(token) == 2 and "function" in token[1].label:
            function = token[1]
            return f"{token[0].source}:{function.symbol}({self._args(function)})"
        if "function" in label and symbol not in ("node", "text", "comment"):
            name = RENAMED.get(symbol, symbol)
            if symbol == "position" and len(token) == 0:
                name = symbol  # XPath 1.0's position() in a predicate: libxml2 knows it
            return f"{name}({self._args(token)})"
        if symbol in BINARY and len(token) == 2:
            left, right = token[0], token[1]
            left_text, right_text = self.emit(left), self.emit(right)
            if symbol in RELATIONAL | ARITHMETIC and (self.is_date(left) or self.is_date(right)):
                left_text, right_text = f"odk-num({left_text})", f"odk-num({right_text})"
            return f"({left_text} {symbol} {right_text})"
        if symbol == "-" and len(token) == 1:
            operand = self.emit(token[0])
            if self.is_date(token[0]):
                operand = f"odk-num({operand})"
            return f"(-{operand})"
        if symbol == "(" and len(token) == 1:
            return f"({self.emit(token[0])})"
        if symbol == "(string)":
            return _quote(token.value)
        if symbol in ("/", "//"):
            if len(token) == 1:
                return f"{symbol}{self.emit(token[0])}"
            if len(token) == 2:
                return f"{self.emit(token[0])}{symbol}{self.emit(token[1])}"
            return symbol
        if symbol == "[":
            return f"{self.emit(token[0])}[{self.emit(token[1])}]"
        return str(token.source)

    def _args(self, token: Any) -> str:
        return ", ".join(self.emit(argument) for argument in token)


# --------------------------------------------------------------------------------------
# Values: XPath 1.0 conversions with ODK's date rules


def to_string(value: Any) -> str:
    """XPath string() of an lxml result."""
    if isinstance(value, list):
        if not value:
            return ""
        first = value[0]
        if isinstance(first, str):
            return str(first)
        return "".join(first.itertext()) if len(first) else (first.text or "")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float | int):
        return format_number(float(value))
    return str(value)


def format_number(number: float) -> str:
    """XPath string() of a number: integers without '.0', NaN and Infinity spelled out."""
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number == int(number) and abs(number) < 1e15:
        return str(int(number))
    text = repr(number)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    return text


_XPATH_NUMBER = re.compile(r"\s*-?(\d+(\.\d*)?|\.\d+)\s*")
_DATE = re.compile(r"\s*(\d{4})-(\d{2})-(\d{2})\s*")
_DATETIME = re.compile(
    r"\s*(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?\s*"
)
_TIME = re.compile(r"\s*(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?\s*")
EPOCH = dt.date(1970, 1, 1)


def string_to_number(text: str) -> float:
    """XPath number() of a string: NaN unless it is a plain decimal number."""
    if _XPATH_NUMBER.fullmatch(text):
        return float(text)
    return math.nan


def to_number(value: Any) -> float:
    """XPath number() of an lxml result."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, float | int):
        return float(value)
    return string_to_number(to_string(value))


def to_boolean(value: Any) -> bool:
    """XPath boolean() of an lxml result."""
    if isinstance(value, list):
        return bool(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, float | int):
        return not (value == 0 or math.isnan(value))
    return bool(value)


def _tzinfo(text: str | None) -> dt.tzinfo | None:
    if not text:
        return None
    if text == "Z":
        return dt.UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def parse_datetime(text: str) -> dt.datetime | None:
    """An ISO 8601 date or date-time (ODK's forms) as a datetime; local time if no zone."""
    match = _DATETIME.fullmatch(text)
    if match:
        year, month, day, hour, minute, second, fraction, zone = match.groups()
        try:
            value = dt.datetime(
                int(year), int(month), int(day), int(hour), int(minute), int(second or 0),
                round(float(fraction or 0) * 1_000_000), tzinfo=_tzinfo(zone),
            )
        except ValueError:
            return None
        return value if value.tzinfo else local(value)
    day_only = parse_date(text)
    if day_only is not None:
        return local(dt.datetime(day_only.year, day_only.month, day_only.day))
    return None


def parse_date(text: str) -> dt.date | None:
    """An ISO 8601 date (``2026-11-23``), or None."""
    match = _DATE.fullmatch(text)
    if not match:
        return None
    try:
        return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def date_number(value: Any) -> float:
    """ODK's number of a value: dates and date-times count days since 1970-01-01."""
    if isinstance(value, float | int | bool):
        return to_number(value)
    text = to_string(value)
    number = string_to_number(text)
    if not math.isnan(number):
        return number
    day = parse_date(text)
    if day is not None:
        return float((day - EPOCH).days)
    moment = parse_datetime(text)
    if moment is not None:
        # The spec counts date-times in days since 1970-01-01 UTC, whatever their offset
        # (date-time() below is the inverse).
        return moment.timestamp() / 86400.0
    return math.nan


def _date_from_number(days: float) -> dt.date:
    return EPOCH + dt.timedelta(days=math.floor(days))


# --------------------------------------------------------------------------------------
# The ODK functions as lxml extensions


def _selected_list(value: Any) -> list[str]:
    return to_string(value).split()


def _selected(_ctx: Any, values: Any, choice: Any) -> bool:
    return to_string(choice).strip() in _selected_list(values)


def _count_selected(_ctx: Any, values: Any) -> float:
    return float(len(_selected_list(values)))


def _selected_at(_ctx: Any, values: Any, index: Any) -> str:
    items = _selected_list(values)
    position = to_number(index)
    if math.isnan(position) or not 0 <= int(position) < len(items):
        return ""
    return items[int(position)]


def _if(_ctx: Any, condition: Any, when_true: Any, when_false: Any) -> Any:
    return when_true if to_boolean(condition) else when_false


def _coalesce(_ctx: Any, first: Any, second: Any) -> str:
    text = to_string(first)
    return text if text != "" else to_string(second)


def _boolean_from_string(_ctx: Any, value: Any) -> bool:
    # XForms 1.0 compares "true" case-insensitively; ODK answers false where XForms fails.
    return to_string(value).strip().lower() in ("true", "1")


# regex() runs on RE2: time linear in the answer's length whatever the pattern (a
# backtracking engine took 43 s over `(a+)+$` and 31 characters). Its \d and \w are ASCII,
# as in Java's Pattern, which ODK Collect uses. RE2 has no backreferences or lookaround; a
# form whose pattern needs them is refused when it is imported (regex_problem).
REGEX_LIMIT = 1000  # characters of a pattern


@cache
def _re2_options() -> Any:
    import re2

    options = re2.Options()
    options.log_errors = False  # its own messages go to stderr; ours say where instead
    options.max_mem = 8 << 20
    return options


@lru_cache(maxsize=512)
def _compiled_regex(pattern: str) -> Any:
    """The compiled pattern, or None when RE2 cannot run it."""
    import re2

    if len(pattern) > REGEX_LIMIT:
        return None
    try:
        return re2.compile(pattern, options=_re2_options())
    except re2.error:
        return None


def regex_problem(pattern: str) -> str | None:
    """Why the kiosk cannot run ``pattern`` in regex(), or None when it can."""
    import re2

    if len(pattern) > REGEX_LIMIT:
        return f"the pattern is longer than {REGEX_LIMIT} characters"
    try:
        re2.compile(pattern, options=_re2_options())
    except re2.error as error:
        reason = error.args[0] if error.args else error
        if isinstance(reason, bytes):
            reason = reason.decode(errors="replace")
        return (f"the pattern {pattern!r} cannot be run in linear time ({reason}; "
                "backreferences and lookaround are not supported)")
    return None


def _regex(_ctx: Any, value: Any, pattern: Any) -> bool:
    # ODK: "an exact and complete match" (Collect uses Java's Pattern.matches).
    compiled = _compiled_regex(to_string(pattern))
    return compiled is not None and compiled.fullmatch(to_string(value)) is not None


def _substr(_ctx: Any, value: Any, start: Any, end: Any = None) -> str:
    text = to_string(value)
    begin = to_number(start)
    if math.isnan(begin):
        return ""
    first = max(int(begin), 0) if begin >= 0 else max(len(text) + int(begin), 0)
    if end is None:
        return text[first:]
    stop = to_number(end)
    if math.isnan(stop):
        return ""
    last = int(stop) if stop >= 0 else len(text) + int(stop)
    return text[first:last]


def _int(_ctx: Any, value: Any) -> float:
    number = date_number(value)
    if math.isnan(number) or math.isinf(number):
        return number
    return float(math.trunc(number))


def _round(_ctx: Any, value: Any, places: Any = 0.0) -> float:
    number = to_number(value)
    digits = to_number(places)
    if math.isnan(number) or math.isinf(number) or math.isnan(digits):
        return number
    # XPath 1.0: of two equally near results, the one nearer positive infinity.
    rounding = ROUND_HALF_UP if number >= 0 else ROUND_HALF_DOWN
    try:
        exponent = Decimal(1).scaleb(-int(digits))
        return float(Decimal(repr(number)).quantize(exponent, rounding=rounding))
    except InvalidOperation:
        return number


def _position(ctx: Any, nodes: Any = None) -> float:
    if nodes is None:
        node = ctx.context_node
    elif isinstance(nodes, list) and nodes and not isinstance(nodes[0], str):
        node = nodes[0]
    else:
        return 1.0
    parent = node.getparent()
    if parent is None:
        return 1.0
    same = [sibling for sibling in parent if sibling.tag == node.tag]
    return float(same.index(node) + 1)


def _indexed_repeat(_ctx: Any, values: Any, *pairs: Any) -> str:
    """ODK's indexed-repeat(value, repeat1, index1[, repeat2, index2 …]): the value in the
    index1-th instance of repeat1 (1-based), within it the index2-th of repeat2, and so on;
    '' when there is no such instance."""
    if len(pairs) % 2 or not isinstance(values, list):
        return ""
    chosen = None
    for repeat, index in zip(pairs[::2], pairs[1::2], strict=True):
        if not isinstance(repeat, list):
            return ""
        instances = [node for node in repeat if not isinstance(node, str)
                     and (chosen is None or _inside(node, chosen))]
        number = to_number(index)
        if math.isnan(number) or not 1 <= int(number) <= len(instances):
            return ""
        chosen = instances[int(number) - 1]
    for node in values:
        if not isinstance(node, str) and _inside(node, chosen):
            return to_string([node])
    return ""


def _inside(node: Any, ancestor: Any) -> bool:
    while node is not None:
        if node is ancestor:
            return True
        node = node.getparent()
    return False


def _nodes(arguments: Iterable[Any]) -> list[Any]:
    items: list[Any] = []
    for argument in arguments:
        if isinstance(argument, list):
            items.extend(argument)
        else:
            items.append(argument)
    return items


def _concat(_ctx: Any, *arguments: Any) -> str:
    # ODK: one argument is enough, and every node of a node-set counts, not only the first.
    return "".join(
        to_string([item]) if not isinstance(item, float | bool | str) else to_string(item)
        for item in _nodes(arguments)
    )


def _number(ctx: Any, value: Any = None) -> float:
    return date_number([ctx.context_node] if value is None else value)


def _count_non_empty(_ctx: Any, nodes: Any) -> float:
    return float(sum(1 for node in _nodes([nodes]) if to_string([node]) != ""))


def _extreme(pick: Callable[[list[float]], float]) -> Callable[..., float]:
    def extreme(_ctx: Any, *arguments: Any) -> float:
        numbers = [
            to_number([item]) if not isinstance(item, float | bool | str) else to_number(item)
            for item in _nodes(arguments)
        ]
        if not numbers or any(math.isnan(number) for number in numbers):
            return math.nan
        return pick(numbers)

    return extreme


def _today(_ctx: Any) -> str:
    return now_local().date().isoformat()


def _now(_ctx: Any) -> str:
    return format_datetime(now_local())


def _date(_ctx: Any, value: Any) -> str:
    if isinstance(value, float | int) and not isinstance(value, bool):
        if math.isnan(value) or math.isinf(value):
            return ""
        return _date_from_number(float(value)).isoformat()
    text = to_string(value).strip()
    number = string_to_number(text)
    if not math.isnan(number):
        return _date_from_number(number).isoformat()
    day = parse_date(text)
    if day is not None:
        return day.isoformat()
    moment = parse_datetime(text)
    return moment.date().isoformat() if moment else ""


def _date_time(_ctx: Any, value: Any) -> str:
    number = date_number(value)
    if math.isnan(number) or math.isinf(number):
        return ""
    utc = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=number)
    return format_datetime(local(utc))


def _decimal_date_time(_ctx: Any, value: Any) -> float:
    return date_number(value)


def _decimal_time(_ctx: Any, value: Any) -> float:
    match = _TIME.fullmatch(to_string(value))
    if not match:
        return math.nan
    hour, minute, second, fraction, _zone = match.groups()
    seconds = int(hour) * 3600 + int(minute) * 60 + int(second or 0) + float(fraction or 0)
    return seconds / 86400.0


_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def _moment(value: Any) -> dt.datetime | None:
    if isinstance(value, float | int) and not isinstance(value, bool):
        if math.isnan(value) or math.isinf(value):
            return None
        return dt.datetime(1970, 1, 1) + dt.timedelta(days=float(value))
    text = to_string(value).strip()
    number = string_to_number(text)
    if not math.isnan(number):
        return dt.datetime(1970, 1, 1) + dt.timedelta(days=number)
    moment = parse_datetime(text)
    if moment is None:
        return None
    if _DATE.fullmatch(text):
        return moment.replace(tzinfo=None)
    return moment


def _format_date(_ctx: Any, value: Any, pattern: Any) -> str:
    moment = _moment(value)
    if moment is None:
        return ""
    fields = {
        "Y": f"{moment.year:04d}",
        "y": f"{moment.year % 100:02d}",
        "m": f"{moment.month:02d}",
        "n": str(moment.month),
        "b": _MONTHS[moment.month - 1],
        "d": f"{moment.day:02d}",
        "e": str(moment.day),
        "H": f"{moment.hour:02d}",
        "h": str(moment.hour),
        "M": f"{moment.minute:02d}",
        "S": f"{moment.second:02d}",
        "3": f"{moment.microsecond // 1000:03d}",
        "a": _DAYS[moment.weekday()],
    }
    text, out, index = to_string(pattern), [], 0
    while index < len(text):
        char = text[index]
        if char == "%" and index + 1 < len(text):
            code = text[index + 1]
            out.append(fields.get(code, "%" + code))
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


def _once(ctx: Any, value: Any) -> Any:
    current = ctx.context_node.text if ctx.context_node is not None else None
    return current if current not in (None, "") else value


_UUID_ALPHABET = string.ascii_letters + string.digits


def _uuid(_ctx: Any, length: Any = None) -> str:
    if length is None:
        return str(uuid_module.uuid4())
    size = to_number(length)
    if math.isnan(size) or size < 1:
        return ""
    chooser = random.SystemRandom()
    return "".join(chooser.choice(_UUID_ALPHABET) for _ in range(int(size)))


def _math(function: Callable[[float], float]) -> Callable[..., float]:
    def apply(_ctx: Any, value: Any) -> float:
        number = to_number(value)
        try:
            return float(function(number))
        except (ValueError, OverflowError):
            return math.nan

    return apply


def _pow(_ctx: Any, base: Any, exponent: Any) -> float:
    try:
        return float(math.pow(to_number(base), to_number(exponent)))
    except (ValueError, OverflowError):
        return math.nan


def _ends_with(_ctx: Any, value: Any, suffix: Any) -> bool:
    return to_string(value).endswith(to_string(suffix))


def _join(_ctx: Any, separator: Any, *values: Any) -> str:
    parts = []
    for item in _nodes(values):
        parts.append(to_string([item]) if not isinstance(item, float | bool | str) else
                     to_string(item))
    return to_string(separator).join(parts)


def _random(_ctx: Any) -> float:
    return random.random()


def _entity_value(ctx: Any, dataset: Any, entity_id: Any, name: Any) -> str:
    """One property of one register entry ('' when the session reads no register, or the
    entry is unknown)."""
    node = ctx.context_node
    key = node.getroottree().getroot().get(ENTITY_ATTRIBUTE) if node is not None else None
    source = _ENTITY_SOURCES.get(key) if key else None
    identifier = to_string(entity_id).strip()
    if source is None or not identifier:
        return ""
    entity = source.entity(to_string(dataset), identifier)
    return entity.value(to_string(name)) if entity is not None else ""


def attach_entity_source(root: Any, source: Any) -> None:
    """Let the expressions evaluated in ``root``'s instance read ``source``'s registers."""
    key = str(id(source))
    _ENTITY_SOURCES[key] = source
    root.set(ENTITY_ATTRIBUTE, key)


def _odk_num(_ctx: Any, value: Any) -> float:
    return date_number(value)


def _choice_name_function(
    labels_for: Callable[[str, str, str | None], str | None],
) -> Callable[..., str]:
    def choice_name(ctx: Any, value: Any, path: Any) -> str:
        node = ctx.context_node
        language = node.getroottree().getroot().get(LANG_ATTRIBUTE) if node is not None else None
        label = labels_for(to_string(path).strip(), to_string(value).strip(), language)
        return label or ""

    return choice_name


_BASE_EXTENSIONS: dict[tuple[str | None, str], Callable[..., Any]] = {
    (None, "selected"): _selected,
    (None, "count-selected"): _count_selected,
    (None, "selected-at"): _selected_at,
    (None, "if"): _if,
    (None, "coalesce"): _coalesce,
    (None, "boolean-from-string"): _boolean_from_string,
    (None, "regex"): _regex,
    (None, "substr"): _substr,
    (None, "int"): _int,
    (None, "count-non-empty"): _count_non_empty,
    (None, "min"): _extreme(min),
    (None, "max"): _extreme(max),
    (None, "today"): _today,
    (None, "now"): _now,
    (None, "date"): _date,
    (None, "date-time"): _date_time,
    (None, "decimal-date-time"): _decimal_date_time,
    (None, "decimal-time"): _decimal_time,
    (None, "format-date"): _format_date,
    (None, "format-date-time"): _format_date,
    (None, "once"): _once,
    (None, "uuid"): _uuid,
    (None, "abs"): _math(abs),
    (None, "pow"): _pow,
    (None, "log"): _math(math.log),
    (None, "log10"): _math(math.log10),
    (None, "exp"): _math(math.exp),
    (None, "exp10"): _math(lambda number: math.pow(10, number)),
    (None, "sqrt"): _math(math.sqrt),
    (None, "ends-with"): _ends_with,
    (None, "join"): _join,
    (None, "random"): _random,
    (None, "indexed-repeat"): _indexed_repeat,
    (None, "odk-round"): _round,
    (None, "odk-position"): _position,
    (None, "odk-concat"): _concat,
    (None, "odk-number"): _number,
    (None, "odk-num"): _odk_num,
    (None, "entity-value"): _entity_value,
}


def extensions(
    choice_label: Callable[[str, str, str | None], str | None] | None = None,
) -> dict[tuple[str | None, str], Callable[..., Any]]:
    """The lxml extension table for one form (jr:choice-name needs the form's choices)."""
    table = dict(_BASE_EXTENSIONS)
    table[(JR_NAMESPACE, "choice-name")] = _choice_name_function(
        choice_label or (lambda _path, _value, _language: None)
    )
    return table


class CompiledExpression:
    """One translated expression, compiled by lxml on first use and kept for the form."""

    __slots__ = ("_compiled", "_constant", "_extensions", "source", "translated")

    def __init__(
        self, source: str, translated: Translated,
        extension_table: dict[tuple[str | None, str], Callable[..., Any]],
    ) -> None:
        self.source = source
        self.translated = translated
        self._extensions = extension_table
        self._compiled: etree.XPath | None = None
        # `required = yes` becomes true(): no need to ask libxml2 every time.
        self._constant = {"true()": True, "false()": False}.get(translated.xpath)

    @property
    def references(self) -> frozenset[str]:
        return self.translated.references

    @property
    def deterministic(self) -> bool:
        """Same inputs, same result (no clock or randomness), so results may be reused."""
        xpath = self.translated.xpath
        return not any(name in xpath for name in ("now(", "today(", "random(", "uuid("))

    def _xpath(self) -> etree.XPath:
        if self._compiled is None:
            etree = lxml_etree()
            try:
                self._compiled = etree.XPath(
                    self.translated.xpath, namespaces=NAMESPACES, extensions=self._extensions,
                    smart_strings=False,
                )
            except etree.XPathSyntaxError as error:
                raise ExpressionError(f"{error}: {self.source}") from None
        return self._compiled

    def check(self) -> None:
        """Compile now (ExpressionError if libxml2 cannot)."""
        self._xpath()

    def evaluate(self, node: Any, **variables: Any) -> Any:
        """Evaluate with ``node`` as the context ('.')."""
        try:
            return self._xpath()(node, **variables)
        except lxml_etree().XPathEvalError as error:  # looked up only when one is raised
            raise ExpressionError(f"{error}: {self.source}") from None

    def as_string(self, node: Any, **variables: Any) -> str:
        return to_string(self.evaluate(node, **variables))

    def as_boolean(self, node: Any, **variables: Any) -> bool:
        if self._constant is not None:
            return self._constant
        return to_boolean(self.evaluate(node, **variables))
