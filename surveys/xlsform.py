"""Read an XLSForm with pyxform and compile it into the kiosk's form (see ``surveys.form``).

Everything the kiosk cannot run is refused here, with the file, sheet, row and column, so a
resident never meets a broken form: unsupported types (repeats, geo, media), unknown
functions, references to questions that do not exist, and expressions that do not parse.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

from lxml import etree

from surveys import expressions
from surveys.entities import LIST_NAME, RESERVED_PROPERTIES
from surveys.expressions import ExpressionError, TranslationContext
from surveys.form import (
    COMPILED_FORMAT,
    DEFAULT_LANGUAGE,
    Form,
    Item,
    language_code,
)

SUPPORTED_TYPES = (
    "select_one, select_multiple (or_other), integer, decimal, text, date, note, calculate, "
    "acknowledge, begin_group/end_group, start, end, today"
)
# pyxform's names for the types we run -> the kiosk's names.
KIND_BY_PYXFORM_TYPE = {
    "select one": "select_one",
    "select all that apply": "select_multiple",
    "integer": "integer",
    "decimal": "decimal",
    "text": "text",
    "date": "date",
    "note": "note",
    "calculate": "calculate",
    "acknowledge": "acknowledge",
    "group": "group",
    "repeat": "repeat",
    "start": "start",
    "end": "end",
    "today": "today",
}
# What staff may write in the type column (before pyxform's own aliasing).
_SIMPLE_TYPES = {
    "integer", "int", "decimal", "text", "string", "date", "note", "calculate", "acknowledge",
    "start", "end", "today", "begin_group", "end_group", "begin group", "end group",
}
_SELECT_TYPES = ("select_one", "select one", "select_multiple", "select all that apply",
                 "select multiple")
_REPEAT_TYPES = {"begin_repeat", "begin repeat", "end_repeat", "end repeat"}
_UNSUPPORTED_HINTS = {
    "geopoint": "geo types", "geotrace": "geo types", "geoshape": "geo types",
    "image": "media", "audio": "media", "video": "media", "file": "media",
    "background-audio": "media", "barcode": "barcodes", "range": "range questions",
    "rank": "rank questions", "time": "time questions", "datetime": "date-time questions",
}
# The entities sheet's columns (ODK's spec 2024.1, one list per form).
ENTITY_COLUMNS = ("list_name", "label", "entity_id", "create_if", "update_if")
# Survey-sheet columns holding expressions -> the key the compiled form uses.
EXPRESSION_COLUMNS = {
    "relevant": "relevant",
    "constraint": "constraint",
    "required": "required",
    "calculation": "calculate",
    "default": "default",
    "read_only": "read_only",
    "choice_filter": "choice_filter",
    "repeat_count": "repeat_count",
}
_BIND_KEYS = {"relevant": "relevant", "constraint": "constraint", "required": "required",
              "calculate": "calculate", "readonly": "read_only"}
_YES = {"yes", "true", "true()", "1"}
_NO = {"no", "false", "false()", "0", ""}
SURVEY_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PYXFORM_ROW = re.compile(r"\[row\s*:\s*(\d+)\]\s*")
_PYXFORM_PLACE = re.compile(r"On the '(\w+)' sheet, the '([^']+)' value")
_PYXFORM_PLACE_SENTENCE = re.compile(r"On the '\w+' sheet, the '[^']+' value is \w+\.\s*")
_LABEL_REFERENCE = re.compile(r"\$\{([^}]*)\}")

OTHER_LABELS = {"zh": "其他", "en": "Other"}
SPECIFY_OTHER_LABELS = {"zh": "请注明其他", "en": "Please specify other"}


class FormError(ValueError):
    """An XLSForm the kiosk cannot run, with the place to fix it."""

    def __init__(
        self, message: str, *, file: str | None = None, sheet: str | None = None,
        row: int | None = None, column: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.sheet = sheet
        self.row = row
        self.column = column

    def __str__(self) -> str:
        place = [part for part in (
            self.file,
            f"sheet '{self.sheet}'" if self.sheet else None,
            f"row {self.row}" if self.row else None,
            f"column '{self.column}'" if self.column else None,
        ) if part]
        return f"{', '.join(place)}: {self.message}" if place else self.message


@dataclass
class _Rows:
    """Where things are in the spreadsheet, for messages (rows numbered as Excel shows)."""

    survey: list[dict[str, str]]
    settings: dict[str, str]
    by_name: dict[str, int]
    choices: dict[tuple[str, str], dict[str, str]]
    entities: list[dict[str, str]] = field(default_factory=list)

    def row_of(self, name: str) -> int | None:
        return self.by_name.get(name)

    def column_of(self, row: int | None, base: str) -> str:
        """The header as the author wrote it (``relevant`` or ``bind::relevant``...)."""
        if row is None or row - 2 >= len(self.survey):
            return base
        for header in self.survey[row - 2]:
            if header == base or header.endswith("::" + base) or header.startswith(base + "::"):
                return header
        return base


def compile_xlsform(source: str | Path | bytes, *,
                    file_name: str | None = None) -> dict[str, Any]:
    """Read an XLSForm (.xlsx, .xls, .csv or .md) and return the compiled form (JSON-able)."""
    # pyxform loads only here: the kiosk runs compiled forms and starts faster without it.
    from pyxform.errors import PyXFormError
    from pyxform.xls2json import workbook_to_json
    from pyxform.xls2json_backends import get_xlsform

    if isinstance(source, bytes):
        data = source
        name = file_name or "form"
    else:
        path = Path(source)
        name = file_name or path.name
        try:
            data = path.read_bytes()
        except OSError as error:
            raise FormError(f"cannot read the file: {error.strerror or error}", file=name) from None
    suffix = Path(name).suffix.lower()
    file_type = suffix if suffix in (".xlsx", ".xlsm", ".xls", ".csv", ".md") else None
    _check_size(data, name)
    try:
        workbook = get_xlsform(BytesIO(data), file_type=file_type)
    except PyXFormError as error:
        raise FormError(f"not a readable XLSForm ({_clean(error)})", file=name) from None
    except Exception as error:  # pyxform's readers raise many kinds on damaged files
        raise FormError(f"not a readable XLSForm ({error})", file=name) from None

    rows = _check_rows(workbook, name)
    fallback = Path(name).stem if SURVEY_ID.fullmatch(Path(name).stem) else "form"
    try:
        pyxform_dict = workbook_to_json(
            workbook_dict=workbook, form_name="data", fallback_form_name=fallback,
            default_language=rows.settings.get("default_language") or None,
        )
    except PyXFormError as error:
        raise _pyxform_error(error, name) from None
    compiled = _Compiler(pyxform_dict, rows, name).compile()
    compiled["source_name"] = name
    compiled["source_sha256"] = hashlib.sha256(data).hexdigest()
    if not compiled["version"]:
        # A form without a version still needs one to tell its submissions apart.
        compiled["version"] = "sha-" + compiled["source_sha256"][:12]
    Form(compiled)  # builds every runtime structure once, so errors surface at import
    return compiled


# A questionnaire's workbook is some kilobytes; these bound what reading one may cost (an
# 820 KB .xlsx that unpacks to 840 MB once took 1.7 GB to read).
FILE_LIMIT = 20 << 20
UNPACKED_LIMIT = 50 << 20
ENTRY_LIMIT = 1000


def _check_size(data: bytes, name: str) -> None:
    """Refuse, before anything reads it, a file too big to be a form, or a workbook (a zip
    archive) that unpacks past UNPACKED_LIMIT."""
    if len(data) > FILE_LIMIT:
        raise FormError(f"the file is {len(data) >> 20} MB, more than a form can be "
                        f"({FILE_LIMIT >> 20} MB)", file=name)
    if not data.startswith(b"PK"):
        return
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # not readable as a zip: the reader says so
    unpacked = sum(entry.file_size for entry in entries)
    if len(entries) > ENTRY_LIMIT or unpacked > UNPACKED_LIMIT:
        raise FormError(f"the workbook unpacks to {unpacked >> 20:,} MB in {len(entries):,} "
                        f"parts, more than a form can be ({UNPACKED_LIMIT >> 20} MB); it was "
                        "not read", file=name)


def load_xlsform(source: str | Path | bytes, *, file_name: str | None = None) -> Form:
    """Compile an XLSForm and return the runnable form."""
    return Form(compile_xlsform(source, file_name=file_name))


def _clean(error: Exception) -> str:
    return _PYXFORM_ROW.sub("", str(error)).strip()


def _pyxform_error(error: Exception, file_name: str) -> FormError:
    text = str(error)
    row_match = _PYXFORM_ROW.search(text)
    place = _PYXFORM_PLACE.search(text)
    message = _clean(error)
    if place:
        # Our prefix already names the sheet and column.
        message = _PYXFORM_PLACE_SENTENCE.sub("", message).strip() or message
    return FormError(
        message,
        file=file_name,
        sheet=place.group(1) if place else ("survey" if row_match else None),
        row=int(row_match.group(1)) if row_match else None,
        column=place.group(2) if place else None,
    )


def _check_rows(workbook: Any, file_name: str) -> _Rows:
    survey = [dict(row) for row in (workbook.survey or [])]
    settings_rows = workbook.settings or []
    first_settings = settings_rows[0] if settings_rows else {}
    settings = {key: str(value) for key, value in first_settings.items() if value is not None}
    by_name: dict[str, int] = {}
    for index, row in enumerate(survey):
        row_number = index + 2
        raw_type = (row.get("type") or "").strip()
        if not raw_type:
            continue
        if " ".join(raw_type.lower().split()) not in _REPEAT_TYPES:
            _check_type(raw_type, file_name, row_number)
        name = (row.get("name") or "").strip()
        if name:
            by_name.setdefault(name, row_number)
    choices = {}
    for row in workbook.choices or []:
        key = (str(row.get("list_name") or row.get("list name") or "").strip(),
               str(row.get("name") or "").strip())
        choices.setdefault(key, dict(row))
    entities = [{str(key).strip(): str(value).strip() for key, value in row.items()
                 if value is not None and str(value).strip()}
                for row in (getattr(workbook, "entities", None) or [])]
    entities = [row for row in entities if row]
    if len(entities) > 1:
        raise FormError(
            "a form creates or updates entities in one list only (每份问卷只能登记或更新一个"
            "名单；请把其余的行删掉，或分成几份问卷)",
            file=file_name, sheet="entities", row=3, column="list_name")
    for row in entities:
        unknown = sorted(set(row) - set(ENTITY_COLUMNS))
        if unknown:
            raise FormError(
                f"column '{unknown[0]}' is not one the kiosk reads on the entities sheet "
                f"(它只认 {', '.join(ENTITY_COLUMNS)})",
                file=file_name, sheet="entities", row=2, column=unknown[0])
    return _Rows(survey=survey, settings=settings, by_name=by_name, choices=choices,
                 entities=entities)


def raw_texts(row: dict[str, Any], column: str, default_language: str) -> dict[str, str]:
    """A text column in every language, exactly as written in the sheet.

    pyxform turns curly quotes into ASCII ones in every cell; Chinese text uses “”‘’, so
    labels and messages are read from the sheet itself.
    """
    texts: dict[str, str] = {}
    for header, value in row.items():
        if value is None or not str(value).strip():
            continue
        parts = [part.strip() for part in str(header).split("::")]
        if parts[0].lower().replace(" ", "_") != column or len(parts) > 2:
            continue
        language = parts[1] if len(parts) == 2 else default_language
        texts[language] = str(value).strip()
    return texts


def _check_type(raw_type: str, file_name: str, row: int) -> None:
    lowered = " ".join(raw_type.lower().split())
    if lowered in _SIMPLE_TYPES:
        return
    for select in _SELECT_TYPES:
        if lowered.startswith(select + " "):
            rest = lowered[len(select):].split()
            if len(rest) == 1 or (len(rest) == 2 and rest[1] == "or_other"):
                return
            break
    head = lowered.split()[0]
    what = _UNSUPPORTED_HINTS.get(lowered) or _UNSUPPORTED_HINTS.get(head)
    if head == "select_one_from_file":
        rest = lowered.split()[1:]
        if len(rest) == 1 and rest[0].endswith(".csv") and LIST_NAME.fullmatch(rest[0][:-4]):
            return  # a register of households (ODK Entities): the list the file names
        raise FormError(
            f"type '{raw_type}': choices from a file are read only from a register named by "
            "its list, as select_one_from_file households.csv (选项文件只支持登记名单，"
            "例如 select_one_from_file households.csv)",
            file=file_name, sheet="survey", row=row, column="type")
    if head.startswith("select_multiple_from_file") or head.startswith("select_one_from_file"):
        what = "choices from files other than select_one_from_file LIST.csv"
    reason = (
        f"type '{raw_type}' is not supported by the kiosk ({what} are not supported)"
        if what else f"unknown or unsupported type '{raw_type}'"
    )
    raise FormError(f"{reason}; supported types: {SUPPORTED_TYPES}",
                    file=file_name, sheet="survey", row=row, column="type")


def _texts(value: Any, default_language: str) -> dict[str, str]:
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        texts = {}
        for language, text in value.items():
            key = default_language if language == DEFAULT_LANGUAGE else language
            if isinstance(text, str) and text.strip():
                texts.setdefault(key, text)
        return texts
    return {default_language: str(value)}


class _Compiler:
    def __init__(self, survey: dict[str, Any], rows: _Rows, file_name: str) -> None:
        self.survey = survey
        self.rows = rows
        self.file_name = file_name
        self.default_language = survey.get("default_language") or DEFAULT_LANGUAGE
        self.items: list[Item] = []
        self.sources: dict[str, dict[str, str]] = {}  # name -> expression key -> text
        self.lowered: dict[str, str] = {}  # name in small letters -> name
        self.defaults: dict[str, str] = {}
        self.choices: dict[str, list[dict[str, Any]]] = {}
        self.entity: dict[str, Any] | None = None

    def error(self, message: str, name: str | None = None, column: str | None = None,
              sheet: str = "survey") -> FormError:
        row = self.rows.row_of(name) if name else None
        header = self.rows.column_of(row, column) if column else None
        return FormError(message, file=self.file_name, sheet=sheet, row=row, column=header)

    def compile(self) -> dict[str, Any]:
        survey_id = str(self.survey.get("id_string") or "")
        if not SURVEY_ID.fullmatch(survey_id):
            raise FormError(
                f"form_id {survey_id!r} must start with a letter and hold only letters, digits "
                "and _ (it names the survey in commands and exports)",
                file=self.file_name, sheet="settings", row=2, column="form_id",
            )
        root = str(self.survey.get("name") or "data")
        self._walk(self.survey.get("children", []), parent=None, parent_path=f"/{root}")
        self._collect_choices()
        self._check_entities()
        languages = self._languages()
        if self.default_language not in languages:
            languages.insert(0, self.default_language)
        self._restore_quotes()
        for item in self.items:
            if item.or_other:
                self._label_other(item, languages)
        self._translate_expressions(root)
        order = self._calculate_order()
        title = _texts(self.survey.get("title"), self.default_language) or {
            self.default_language: survey_id
        }
        # ODK has no translated titles; `kiosk_title::English (en)` is ours and ODK tools
        # ignore it (pyxform's XForm output breaks on `form_title::…`, so that is read too).
        for column in ("form_title", "kiosk_title"):
            for language, text in raw_texts(self.rows.settings, column,
                                            self.default_language).items():
                if column == "form_title" or language != self.default_language:
                    title[language] = text
        settings = dict(self.rows.settings)
        return {
            "format": COMPILED_FORMAT,
            "survey_id": survey_id,
            "version": str(self.survey.get("version") or ""),
            "title": title,
            "default_language": self.default_language,
            "languages": languages,
            "root": root,
            "settings": settings,
            "items": [item.to_json() for item in self.items],
            "choices": self.choices,
            "calculate_order": order,
            **({"entity": self.entity} if self.entity else {}),
        }

    # ---- structure ------------------------------------------------------------------

    def _walk(self, children: Iterable[dict[str, Any]], parent: str | None,
              parent_path: str, field_list: str | None = None) -> None:
        for child in children:
            pyxform_type = child.get("type", "")
            name = child.get("name", "")
            if pyxform_type == "group" and name == "meta" and child.get("control", {}).get(
                    "bodyless"):
                continue  # pyxform's instanceID block: the kiosk assigns instance ids itself
            kind = KIND_BY_PYXFORM_TYPE.get(pyxform_type)
            if kind is None:
                raise self.error(
                    f"type '{pyxform_type}' is not supported by the kiosk; supported types: "
                    f"{SUPPORTED_TYPES}", name, "type")
            if name in self.sources:
                raise self.error(f"the name '{name}' is used twice", name, "name")
            # The statistics keep a column per question, and SQL names ignore case.
            same = self.lowered.setdefault(name.lower(), name)
            if same != name:
                raise self.error(
                    f"the names '{same}' and '{name}' differ only in capital letters; give "
                    f"one another name (题目名“{same}”和“{name}”只差大小写，请改掉一个)",
                    name, "name")
            item = Item(
                name=name, kind=kind, path=f"{parent_path}/{name}", parent=parent,
                label=_texts(child.get("label"), self.default_language),
                hint=_texts(child.get("hint"), self.default_language),
                appearance=str(child.get("control", {}).get("appearance", "") or ""),
                row=self.rows.row_of(name),
                list_name=child.get("list_name") or child.get("itemset"),
                pii=str(child.get("pii", "")).strip().lower() in _YES,
            )
            bind = child.get("bind", {})
            self._read_entity_columns(item, bind)
            item.constraint_message = _texts(bind.get("jr:constraintMsg"), self.default_language)
            item.required_message = _texts(bind.get("jr:requiredMsg"), self.default_language)
            sources: dict[str, str] = {}
            for bind_key, key in _BIND_KEYS.items():
                value = bind.get(bind_key)
                if value is not None and str(value).strip():
                    sources[key] = str(value).strip()
            count = child.get("control", {}).get("jr:count") if kind == "repeat" else None
            if count is not None and str(count).strip():
                sources["repeat_count"] = str(count).strip()
            if child.get("choice_filter"):
                sources["choice_filter"] = str(child["choice_filter"]).strip()
            if child.get("default") not in (None, ""):
                if child.get("_dynamic_default"):
                    sources["default"] = str(child["default"]).strip()
                else:
                    self.defaults[name] = str(child["default"])
            if kind == "calculate" and "calculate" not in sources:
                raise self.error("a calculate needs a calculation", name, "calculation")
            self.sources[name] = sources
            self.items.append(item)
            if name.endswith("_other") and self.items[:-1] and pyxform_type == "text":
                self._maybe_specify_other(item)
            if kind == "repeat" and field_list is not None:
                # One screen cannot hold a changing number of instances (nor can ODK Collect).
                raise self.error(
                    f"repeat '{name}' is inside the field-list group '{field_list}': a repeat "
                    "cannot be shown on one screen with other questions (重复组不能放在 "
                    "field-list 组里)", name, "type")
            if kind in ("group", "repeat"):
                self._walk(child.get("children", []), parent=name, parent_path=item.path,
                           field_list=field_list or (name if item.is_field_list else None))

    def _read_entity_columns(self, item: Item, bind: dict[str, Any]) -> None:
        """select_one_from_file LIST.csv reads the register LIST; save_to names the register
        property an answer is saved to."""
        if item.list_name and str(item.list_name).lower().endswith(".csv"):
            item.entity_list = str(item.list_name)[:-4]
            item.list_name = None
        save_to = str(bind.get("entities:saveto") or "").strip()
        if not save_to:
            return
        if not self.rows.entities:
            raise self.error("save_to needs an entities sheet naming the list it saves to "
                             "(save_to 需要 entities 表)", item.name, "save_to")
        if not LIST_NAME.fullmatch(save_to) or save_to.startswith("__") \
                or save_to.lower() in RESERVED_PROPERTIES:
            raise self.error(f"save_to '{save_to}' cannot name a register property (名称须为"
                             "英文字母开头，且不能是 name、label 或以 __ 开头)",
                             item.name, "save_to")
        item.save_to = save_to

    def _check_entities(self) -> None:
        """What the kiosk's subset of ODK Entities refuses, with its place."""
        chains = self._repeat_chains()
        saved: dict[str, str] = {}
        for item in self.items:
            if item.save_to is None:
                continue
            if chains[item.name]:
                raise self.error(
                    f"save_to inside the repeat '{chains[item.name][0]}': the kiosk saves a "
                    "register entry from the questions outside repeats only (重复组里的问题"
                    "不能保存到名单)", item.name, "save_to")
            if item.kind not in ("select_one", "select_multiple", "integer", "decimal",
                                 "text", "date", "calculate"):
                raise self.error(f"save_to on a {item.kind}: only answers and calculates are "
                                 "saved to a register", item.name, "save_to")
            if item.save_to in saved:
                raise self.error(f"save_to '{item.save_to}' is also given by "
                                 f"'{saved[item.save_to]}'", item.name, "save_to")
            saved[item.save_to] = item.name
        for item in self.items:
            if item.entity_list is None:
                continue
            if chains[item.name]:
                raise self.error(
                    f"select_one_from_file inside the repeat '{chains[item.name][0]}': the "
                    "kiosk picks a register entry outside repeats only (重复组里不能选名单)",
                    item.name, "type")
            if self.sources[item.name].get("choice_filter"):
                raise self.error("a choice_filter on select_one_from_file is not supported; "
                                 "the kiosk searches the register instead (名单选择题不支持 "
                                 "choice_filter)", item.name, "choice_filter")

    def _entity_declaration(self, context: TranslationContext) -> dict[str, Any] | None:
        """The entities sheet's row, its expressions translated (evaluated at the root)."""
        if not self.rows.entities:
            return None
        row = self.rows.entities[0]
        dataset = row.get("list_name", "")
        if not LIST_NAME.fullmatch(dataset) or dataset.startswith("__"):
            raise FormError(f"list_name {dataset!r} must be a name of letters, digits and _ "
                            "(名单名称须为英文字母、数字或 _)", file=self.file_name,
                            sheet="entities", row=2, column="list_name")
        compiled: dict[str, Any] = {"dataset": dataset, "row": 2,
                                    "create": "entity_id" not in row or "create_if" in row,
                                    "update": "entity_id" in row, "expressions": {}}
        for column in ("label", "entity_id", "create_if", "update_if"):
            text = row.get(column)
            if not text:
                continue
            try:
                translated = expressions.translate(text, context)
                etree.XPath(translated.xpath, namespaces=expressions.NAMESPACES,
                            extensions=expressions.extensions())
            except (ExpressionError, etree.XPathSyntaxError) as error:
                raise FormError(f"{error} in {text!r}", file=self.file_name, sheet="entities",
                                row=2, column=column) from None
            if "entity-value(" in translated.xpath:
                raise FormError("instance() is read in a calculation only; put it in a "
                                "calculate and use that", file=self.file_name,
                                sheet="entities", row=2, column=column)
            compiled["expressions"][column] = {"source": text, "xpath": translated.xpath,
                                               "refs": sorted(translated.references)}
        return compiled

    def _maybe_specify_other(self, item: Item) -> None:
        """pyxform writes or_other's text question with English-only text: make it ours."""
        base = item.name[: -len("_other")]
        select = next((other for other in self.items if other.name == base), None)
        if select is None or select.kind not in ("select_one", "select_multiple"):
            return
        relevant = self.sources[item.name].get("relevant", "")
        if "'other'" not in relevant or item.name in self.rows.by_name:
            return
        select.or_other = True
        item.row = select.row
        self.sources[item.name]["relevant"] = f"selected(${{{base}}}, 'other')"
        item.label = {}  # filled per language in _label_other

    def _collect_choices(self) -> None:
        for list_name, entries in (self.survey.get("choices") or {}).items():
            converted = []
            for entry in entries:
                extra = {
                    key: str(value) for key, value in entry.items()
                    if key not in ("name", "label", "media")
                    and isinstance(value, str | int | float)
                }
                converted.append({
                    "name": str(entry.get("name", "")),
                    "label": _texts(entry.get("label"), self.default_language),
                    "extra": extra,
                })
            self.choices[list_name] = converted
        for item in self.items:
            is_select = item.kind in ("select_one", "select_multiple")
            if is_select and item.entity_list is None and item.list_name not in self.choices:
                raise self.error(f"choice list '{item.list_name}' is not on the choices sheet",
                                 item.name, "type")

    def _restore_quotes(self) -> None:
        """Take labels, hints and messages from the sheet as written (see raw_texts)."""
        for item in self.items:
            if item.name not in self.rows.by_name:
                continue  # made by pyxform (or_other's text question)
            row = self.rows.survey[self.rows.by_name[item.name] - 2]
            for column in ("label", "hint", "constraint_message", "required_message"):
                texts = raw_texts(row, column, self.default_language)
                if texts:
                    setattr(item, column, texts)
        for list_name, choices in self.choices.items():
            for choice in choices:
                row = self.rows.choices.get((list_name, choice["name"]))
                texts = raw_texts(row, "label", self.default_language) if row else {}
                if texts:
                    choice["label"] = texts

    def _languages(self) -> list[str]:
        found: list[str] = []
        for item in self.items:
            for texts in (item.label, item.hint):
                for language in texts:
                    if language not in found:
                        found.append(language)
        return found

    def _label_other(self, select: Item, languages: list[str]) -> None:
        def per_language(table: dict[str, str]) -> dict[str, str]:
            return {language: table.get(language_code(language), table["en"])
                    for language in languages}

        for choice in self.choices.get(select.list_name or "", []):
            if choice["name"] == "other":
                choice["label"] = per_language(OTHER_LABELS)
        specify = next(item for item in self.items if item.name == f"{select.name}_other")
        if not specify.label:
            specify.label = per_language(SPECIFY_OTHER_LABELS)

    # ---- expressions ----------------------------------------------------------------

    def _translate_expressions(self, root: str) -> None:
        paths = {item.name: item.path for item in self.items}
        date_paths = {item.path for item in self.items
                      if item.kind in ("date", "start", "end", "today")}
        context = TranslationContext(paths=paths, date_paths=date_paths)
        chains = self._repeat_chains()
        made: dict[tuple[str, tuple[str, ...], int], TranslationContext] = {}

        def context_for(item: Item, key: str) -> TranslationContext:
            # repeat_count is read in the instance around the repeat, not in one of its own.
            chain = chains[item.name]
            source = item.path
            if key == "repeat_count":
                chain = chain[:-1]
                source = item.path.rsplit("/", 1)[0]
            if not chain:
                return context
            key_made = (source, chain, len(date_paths))
            if key_made not in made:
                made[key_made] = self._repeat_context(source, chain, chains, paths, date_paths)
            return made[key_made]

        # Calculates that produce dates make their own paths dates: settle that first.
        changed = True
        while changed:
            changed = False
            for item in self.items:
                text = self.sources[item.name].get("calculate")
                if text and item.path not in date_paths:
                    translated = self._translate(item, "calculate", text,
                                                 context_for(item, "calculate"))
                    if translated.is_date:
                        date_paths.add(item.path)
                        changed = True
        filter_context = TranslationContext(paths=paths, variables=True)
        for item in self.items:
            for key, text in self.sources[item.name].items():
                if key in ("required", "read_only"):
                    lowered = text.lower()
                    if lowered in _YES:
                        text = "true()"
                    elif lowered in _NO:
                        continue
                use = filter_context if key == "choice_filter" else context_for(item, key)
                translated = self._translate(item, key, text, use)
                item.expressions[key] = {
                    "source": self.sources[item.name][key],
                    "xpath": translated.xpath,
                    "refs": sorted(translated.references),
                }
                if translated.is_date:
                    item.expressions[key]["date"] = True
            if item.name in self.defaults:
                item.expressions["default"] = {
                    "source": self.defaults[item.name],
                    "xpath": expressions._quote(self.defaults[item.name]),
                    "refs": [],
                }
            self._check_label_references(item, paths)
        self.entity = self._entity_declaration(context)

    def _repeat_chains(self) -> dict[str, tuple[str, ...]]:
        """Each item's enclosing repeats, outermost first (a repeat counts itself)."""
        chains: dict[str, tuple[str, ...]] = {}
        for item in self.items:  # parents come before their children
            chain = chains[item.parent] if item.parent is not None else ()
            chains[item.name] = (*chain, item.name) if item.kind == "repeat" else chain
        return chains

    def _repeat_context(self, source: str, chain: tuple[str, ...],
                        chains: dict[str, tuple[str, ...]], paths: dict[str, str],
                        date_paths: set[str]) -> TranslationContext:
        """ODK's rule inside a repeat: ${name} of a question in the same instance means that
        instance's node, written as a path relative to the item (as pyxform writes it)."""
        relative: dict[str, str] = {}
        dates = set(date_paths)
        steps = source.split("/")
        for name, target in paths.items():
            shared = 0
            for mine, theirs in zip(chain, chains[name], strict=False):
                if mine != theirs:
                    break
                shared += 1
            if not shared:
                relative[name] = target
                continue
            base = paths[chain[shared - 1]].split("/")
            up = len(steps) - len(base)
            down = target.split("/")[len(base):]
            path = "/".join([".."] * up + down) if up or down else "."
            if up == 0 and down:
                path = "./" + path
            relative[name] = path
            if target in date_paths:
                dates.add(path)
        return TranslationContext(paths=relative, date_paths=dates, absolute=paths)

    def _translate(self, item: Item, key: str, text: str,
                   context: TranslationContext) -> expressions.Translated:
        column = next(column for column, compiled in EXPRESSION_COLUMNS.items()
                      if compiled == key)
        try:
            translated = expressions.translate(text, context)
            etree.XPath(translated.xpath, namespaces=expressions.NAMESPACES,
                        extensions=expressions.extensions())
        except ExpressionError as error:
            raise self.error(f"{error} in {text!r}", item.name, column) from None
        except etree.XPathSyntaxError as error:
            raise self.error(f"{error} in {text!r}", item.name, column) from None
        if key != "calculate" and "entity-value(" in translated.xpath:
            # A record checked again elsewhere keeps the values read from the register where
            # it was filled; only a calculate's value travels with it.
            raise self.error("instance() is read in a calculation only; put it in a calculate "
                             "and use that (instance() 只能写在 calculate 的 calculation 里)",
                             item.name, column)
        return translated

    def _check_label_references(self, item: Item, paths: dict[str, str]) -> None:
        for column, texts in (("label", item.label), ("hint", item.hint),
                              ("constraint_message", item.constraint_message),
                              ("required_message", item.required_message)):
            for text in texts.values():
                for match in _LABEL_REFERENCE.finditer(text):
                    if match.group(1).strip() not in paths:
                        raise self.error(
                            f"${{{match.group(1)}}} does not name a question in this form",
                            item.name, column)

    def _calculate_order(self) -> list[str]:
        """Calculates ordered so that each comes after the calculates it reads."""
        calculates = {item.name: item for item in self.items if "calculate" in item.expressions}
        order: list[str] = []
        state: dict[str, str] = {}

        def visit(name: str, trail: list[str]) -> None:
            if state.get(name) == "done":
                return
            if state.get(name) == "visiting":
                cycle = " -> ".join([*trail[trail.index(name):], name])
                raise self.error(f"calculations depend on each other in a circle: {cycle}",
                                 name, "calculation")
            state[name] = "visiting"
            for reference in calculates[name].expressions["calculate"]["refs"]:
                if reference in calculates and reference != name:
                    visit(reference, [*trail, name])
            state[name] = "done"
            order.append(name)

        for name in calculates:
            visit(name, [])
        return order
