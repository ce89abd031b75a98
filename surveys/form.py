"""The compiled form: what the kiosk keeps of an XLSForm, and the runtime built from it.

A compiled form is plain JSON (stored in SQLite with its version). It already holds every
expression translated to XPath, so loading it never runs pyxform or the expression parser:
``Form.from_compiled`` only builds objects, and lxml compiles each XPath on first use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from surveys import expressions
from surveys.entities import EntityDeclaration
from surveys.expressions import CompiledExpression, Translated, lxml_etree

if TYPE_CHECKING:
    from lxml import etree

COMPILED_FORMAT = 1
# The most instances one repeat may hold (in one instance of the repeat around it), and all
# repeats of one questionnaire together: a household's members and a year of visits fit;
# nested repeats of 100 × 100 would make checking one record take half a second.
REPEAT_LIMIT = 100
REPEAT_TOTAL_LIMIT = 1000

ANSWERABLE = {"select_one", "select_multiple", "integer", "decimal", "text", "date", "acknowledge"}
# Filled in by the kiosk, never shown: start/end of the interview and the day it began.
METADATA = {"start", "end", "today"}
VALUE_KINDS = ANSWERABLE | {"calculate"} | METADATA
MOMENTARY = re.compile(r"\b(now|today|uuid|random|once)\s*\(")
LANGUAGE_CODE = re.compile(r"\(([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)*)\)\s*$")
DEFAULT_LANGUAGE = "default"


def language_code(language: str) -> str:
    """``中文 (zh)`` -> ``zh``; a name without a code is its own code."""
    match = LANGUAGE_CODE.search(language)
    return match.group(1).lower() if match else language


@dataclass
class Choice:
    name: str
    label: dict[str, str]
    # Other columns of the choices sheet, which a choice_filter may read.
    extra: dict[str, str] = field(default_factory=dict)


_LENGTH_AT_MOST = re.compile(r"string-length\(\s*\.\s*\)\s*(<=|<)\s*(\d{1,6})")


@dataclass
class Item:
    """A question, note, calculate or group, in document order."""

    name: str
    kind: str
    path: str
    parent: str | None = None
    label: dict[str, str] = field(default_factory=dict)
    hint: dict[str, str] = field(default_factory=dict)
    constraint_message: dict[str, str] = field(default_factory=dict)
    required_message: dict[str, str] = field(default_factory=dict)
    list_name: str | None = None
    appearance: str = ""
    pii: bool = False
    or_other: bool = False
    row: int | None = None
    # The register property this answer is saved to (XLSForm save_to), and for
    # select_one_from_file the register its choices come from.
    save_to: str | None = None
    entity_list: str | None = None
    # kind -> {"source": XLSForm text, "xpath": translated, "refs": [names], "date": bool}
    expressions: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def is_group(self) -> bool:
        """A group or a repeat: an item that holds others."""
        return self.kind in ("group", "repeat")

    @property
    def is_repeat(self) -> bool:
        return self.kind == "repeat"

    @property
    def is_field_list(self) -> bool:
        return self.is_group and "field-list" in self.appearance.split()

    @property
    def has_value(self) -> bool:
        return self.kind in VALUE_KINDS

    @property
    def answerable(self) -> bool:
        return self.kind in ANSWERABLE

    @property
    def length_limit(self) -> int | None:
        """The most characters the form's own constraint allows (``string-length(.) <= 300``,
        alone or joined with ``and``), so that the box refuses at the same length as 下一题
        would; None when the constraint says nothing so plain."""
        source = str(self.expressions.get("constraint", {}).get("source", ""))
        limits = []
        for part in re.split(r"\s+and\s+", source.strip()) if " or " not in source else []:
            found = _LENGTH_AT_MOST.fullmatch(part.strip().strip("()").strip())
            if found:
                limits.append(int(found.group(2)) - (1 if found.group(1) == "<" else 0))
        return min(limits) if limits else None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "kind": self.kind, "path": self.path}
        for key in ("parent", "list_name", "row", "save_to", "entity_list"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        for key in ("label", "hint", "constraint_message", "required_message", "expressions"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        if self.appearance:
            data["appearance"] = self.appearance
        if self.pii:
            data["pii"] = True
        if self.or_other:
            data["or_other"] = True
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Item:
        return cls(**data)


@dataclass
class Screen:
    """What one screen shows: a single item, or every item of a field-list group."""

    index: int
    group: Item | None  # the field-list group, if this screen is one
    items: list[Item]

    @property
    def name(self) -> str:
        return self.group.name if self.group else self.items[0].name


class FormInvalid(ValueError):
    """A compiled form (a bundle's, say) that the kiosk will not run; says what."""


# What a form may hold: far more than any questionnaire a station runs, and bounded.
ITEM_LIMIT = 5000
CHOICE_LIMIT = 50_000
XPATH_LIMIT = 20_000  # characters of a translated expression


class Form:
    """A compiled XLSForm ready to run: items, choices, screens and compiled expressions."""

    def __init__(self, compiled: dict[str, Any]) -> None:
        if compiled.get("format") != COMPILED_FORMAT:
            raise ValueError(f"unsupported compiled form format {compiled.get('format')!r}")
        self.compiled = compiled
        self.survey_id: str = compiled["survey_id"]
        self.version: str = compiled["version"]
        self.title: dict[str, str] = compiled["title"]
        self.default_language: str = compiled["default_language"]
        self.languages: list[str] = compiled["languages"]
        self.root_name: str = compiled["root"]
        self.settings: dict[str, str] = compiled.get("settings", {})
        self.source_name: str = compiled.get("source_name", "")
        self.items: list[Item] = [Item.from_json(entry) for entry in compiled["items"]]
        self.by_name: dict[str, Item] = {item.name: item for item in self.items}
        self.by_path: dict[str, Item] = {item.path: item for item in self.items}
        self.choices: dict[str, list[Choice]] = {
            list_name: [Choice(**choice) for choice in entries]
            for list_name, entries in compiled["choices"].items()
        }
        self._choice_index: dict[str, dict[str, Choice]] = {
            list_name: {choice.name: choice for choice in entries}
            for list_name, entries in self.choices.items()
        }
        self._choice_order: dict[str, dict[str, int]] = {
            list_name: {choice.name: index for index, choice in enumerate(entries)}
            for list_name, entries in self.choices.items()
        }
        self._choice_names: dict[str, frozenset[str]] = {
            list_name: frozenset(order) for list_name, order in self._choice_order.items()
        }
        self._filter_cache: dict[tuple[str, tuple[str, ...]], list[Choice]] = {}
        self.value_items: list[Item] = [item for item in self.items if item.has_value]
        self.calculate_order: list[Item] = [
            self.by_name[name] for name in compiled.get("calculate_order", [])
        ]
        self.screens: list[Screen] = self._build_screens()
        # Each item's enclosing repeats, outermost first (a repeat counts itself); empty for
        # every item of a form without repeats.
        self.repeat_chain: dict[str, tuple[str, ...]] = {}
        for item in self.items:
            chain = self.repeat_chain[item.parent] if item.parent is not None else ()
            self.repeat_chain[item.name] = (*chain, item.name) if item.is_repeat else chain
        self.repeats: dict[str, Item] = {item.name: item for item in self.items if item.is_repeat}
        self._extensions = expressions.extensions(self._choice_label_by_path)
        self._expressions: dict[tuple[str, str], CompiledExpression] = {}
        for item in self.items:
            for kind, entry in item.expressions.items():
                translated = Translated(
                    xpath=entry["xpath"], references=frozenset(entry.get("refs", ())),
                    is_date=bool(entry.get("date")),
                )
                self._expressions[(item.name, kind)] = CompiledExpression(
                    entry["source"], translated, self._extensions
                )

        # The register a finished questionnaire creates or updates (the entities sheet).
        declared = compiled.get("entity")
        self.entity: EntityDeclaration | None = (
            EntityDeclaration.from_json(declared) if declared else None)
        self.entity_expressions: dict[str, CompiledExpression] = {}
        for key, entry in (declared or {}).get("expressions", {}).items():
            self.entity_expressions[key] = CompiledExpression(
                entry["source"], Translated(xpath=entry["xpath"],
                                            references=frozenset(entry.get("refs", ()))),
                self._extensions)
        self.saved_to: dict[str, str] = {item.save_to: item.name for item in self.items
                                         if item.save_to}
        self.pii_names: frozenset[str] = frozenset(item.name for item in self.items if item.pii)

    @classmethod
    def from_compiled(cls, compiled: dict[str, Any]) -> Form:
        return cls(compiled)

    def check_bounds(self) -> None:
        """Refuse (FormInvalid) a compiled form that did not come from our compiler and
        holds more than a form can, or expressions the kiosk cannot run in bounded time.
        (regex() is linear whatever the pattern; XPath itself is compiled here.)"""
        if len(self.items) > ITEM_LIMIT:
            raise FormInvalid(f"{len(self.items):,} items, more than {ITEM_LIMIT:,}")
        choices = sum(len(entries) for entries in self.choices.values())
        if choices > CHOICE_LIMIT:
            raise FormInvalid(f"{choices:,} choices, more than {CHOICE_LIMIT:,}")
        expressions_to_check = [*self._expressions.items(),
                                *((("entities", key), expression) for key, expression
                                  in self.entity_expressions.items())]
        for (name, kind), expression in expressions_to_check:
            if len(expression.translated.xpath) > XPATH_LIMIT:
                raise FormInvalid(f"the {kind} of '{name}' is too long")
            try:
                expression.check()
            except (expressions.ExpressionError, RecursionError) as error:
                raise FormInvalid(f"the {kind} of '{name}': {error}") from None

    # ---- lookups -------------------------------------------------------------------

    def expression(self, item: Item, kind: str) -> CompiledExpression | None:
        return self._expressions.get((item.name, kind))

    def choices_for(self, item: Item) -> list[Choice]:
        return self.choices.get(item.list_name or "", [])

    def choice_order(self, item: Item) -> dict[str, int]:
        return self._choice_order.get(item.list_name or "", {})

    def choice_names(self, item: Item) -> frozenset[str]:
        return self._choice_names.get(item.list_name or "", frozenset())

    def filtered_choices(self, item: Item, expression: CompiledExpression,
                         values: dict[str, str]) -> list[Choice]:
        """Choices passing a choice_filter for these answer values (remembered per values)."""
        key = (item.name, tuple(values.values()))
        cached = self._filter_cache.get(key)
        if cached is not None:
            return cached
        choices = self.choices_for(item)
        elements = self.choice_trees[item.list_name or ""]
        kept = [choice for choice, element in zip(choices, elements, strict=True)
                if expression.as_boolean(element, **values)]
        if expression.deterministic:
            if len(self._filter_cache) > 4096:
                self._filter_cache.clear()
            self._filter_cache[key] = kept
        return kept

    def choice(self, item: Item, name: str) -> Choice | None:
        return self._choice_index.get(item.list_name or "", {}).get(name)

    def resolve_language(self, language: str | None) -> str:
        """Accept a language name (``中文 (zh)``) or its code (``zh``)."""
        if not language:
            return self.default_language
        if language in self.languages:
            return language
        wanted = language.lower()
        for name in self.languages:
            if language_code(name) == wanted:
                return name
        raise ValueError(
            f"form {self.survey_id!r} has no language {language!r}; "
            f"it has: {', '.join(self.languages)}"
        )

    def language_or_default(self, language: str | None) -> str:
        """``resolve_language``, or the form's default language when it lacks this one (a
        form with a plain ``label`` column has only its default)."""
        try:
            return self.resolve_language(language)
        except ValueError:
            return self.default_language

    def text(self, texts: dict[str, str], language: str) -> str:
        """A translated text, falling back to the form's default language, then any."""
        if not texts:
            return ""
        if language in texts:
            return texts[language]
        if self.default_language in texts:
            return texts[self.default_language]
        if DEFAULT_LANGUAGE in texts:
            return texts[DEFAULT_LANGUAGE]
        return next(iter(texts.values()))

    def title_in(self, language: str | None = None) -> str:
        return self.text(self.title, self.language_or_default(language)) or self.survey_id

    def _choice_label_by_path(self, path: str, value: str, language: str | None) -> str | None:
        item = self.by_path.get(path) or self.by_name.get(path.rsplit("/", 1)[-1])
        if item is None:
            return None
        choice = self.choice(item, value)
        if choice is None:
            return None
        return self.text(choice.label, language or self.default_language)

    @property
    def review_before_submit(self) -> bool:
        """The settings sheet's ``review`` column: show a review step before submitting."""
        return self.settings.get("review", "").strip().lower() in ("yes", "true", "1")

    @cached_property
    def question_count(self) -> int:
        """Items a resident answers or reads (not calculates, metadata or groups)."""
        return sum(1 for item in self.items if item.answerable or item.kind == "note")

    @cached_property
    def choice_trees(self) -> dict[str, etree._Element]:
        """Choice lists as XML, for choice filters that read choice columns."""
        etree = lxml_etree()
        trees = {}
        for list_name, entries in self.choices.items():
            root = etree.Element("root")
            for choice in entries:
                element = etree.SubElement(root, "item")
                etree.SubElement(element, "name").text = choice.name
                for key, value in choice.extra.items():
                    if _is_xml_name(key):
                        etree.SubElement(element, key).text = value
            trees[list_name] = root
        return trees

    def depends_on_the_moment(self, name: str) -> bool:
        """True for a calculate whose value depends on the moment or on chance (now(),
        today(), uuid(), random(), once()): computed again it would differ."""
        calculate = self.by_name[name].expressions.get("calculate", {})
        return MOMENTARY.search(calculate.get("source", "")) is not None \
            or self.reads_register(name)

    def reads_register(self, name: str) -> bool:
        """True for a calculate reading a register (instance('households')…): checked again
        elsewhere it keeps the value read where the questionnaire was filled."""
        calculate = self.by_name[name].expressions.get("calculate", {})
        return "entity-value(" in calculate.get("xpath", "")

    def ancestors(self, item: Item) -> list[Item]:
        chain = []
        parent = item.parent
        while parent is not None:
            group = self.by_name[parent]
            chain.append(group)
            parent = group.parent
        return chain

    def _build_screens(self) -> list[Screen]:
        screens: list[Screen] = []
        inside_field_list: set[str] = set()
        for item in self.items:
            if item.parent in inside_field_list:
                if item.is_group:
                    inside_field_list.add(item.name)
                continue
            if item.is_field_list:
                inside_field_list.add(item.name)
                members = [
                    member for member in self._descendants(item)
                    if member.answerable or member.kind == "note"
                ]
                if members:
                    screens.append(Screen(len(screens), item, members))
            elif item.answerable or item.kind == "note":
                screens.append(Screen(len(screens), None, [item]))
        return screens

    def _descendants(self, group: Item) -> list[Item]:
        names = {group.name}
        found = []
        for item in self.items:
            if item.parent in names:
                found.append(item)
                if item.is_group:
                    names.add(item.name)
        return found

    def new_instance(self) -> tuple[etree._Element, dict[str, etree._Element]]:
        """An empty instance tree and its nodes (groups too) by name. A repeat has no
        instance yet: a comment holding its name marks where its instances go
        (``new_repeat_instance``); the nodes of items inside repeats are not in the table."""
        root = lxml_etree().Element(self.root_name)
        nodes: dict[str, etree._Element] = {}
        self._add_nodes({None: root}, nodes)
        return root, nodes

    def new_repeat_instance(self, repeat: Item) -> tuple[etree._Element,
                                                          dict[str, etree._Element]]:
        """One empty instance of a repeat, and the nodes of the items directly in it (groups
        too, not those of repeats inside it, which get a marker as in ``new_instance``)."""
        element = lxml_etree().Element(repeat.path.rsplit("/", 1)[-1])
        nodes: dict[str, etree._Element] = {repeat.name: element}
        self._add_nodes({repeat.name: element}, nodes)
        return element, nodes

    def _add_nodes(self, parents: dict[str | None, etree._Element],
                   nodes: dict[str, etree._Element]) -> None:
        """The elements of the items below ``parents`` (by item name), in form order, into
        ``nodes``: a group below one is a parent in turn; a repeat gets a comment holding its
        name where its instances go, and the items inside it are left out."""
        etree = lxml_etree()
        for item in self.items:
            if item.parent not in parents or item.name in nodes:
                continue  # inside a repeat, or the repeat whose instance this is
            parent = parents[item.parent]
            if item.is_repeat:
                parent.append(etree.Comment(item.name))
                nodes[item.name] = parent[-1]
                continue
            element = etree.SubElement(parent, item.path.rsplit("/", 1)[-1])
            nodes[item.name] = element
            if item.is_group:
                parents[item.name] = element


_XML_NAME = re.compile(r"[A-Za-z_][\w.\-]*")


def _is_xml_name(text: str) -> bool:
    return bool(_XML_NAME.fullmatch(text))
