"""The staff dashboard (behind the staff PIN): live tallies with bar charts and a cross-tab
picker, the answers to text questions (grouped, searchable, a page at a time), the
service-request queue (新登记 → 处理中 → 已办结, with a note), the print queue, today's
volunteers, export to a folder such as a USB stick, and the system check (系统检查: the
checks of ``kiosk doctor``, run off the screen's thread, with a box to test the scanner in).

Every staff action here (status change, reprint, retry, cancel, export) goes into the audit
table with the name typed in 经办人; the screen holds no survey logic — figures come from
``surveys.stats`` and files from ``surveys.exports``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import (
    Button,
    Checkbox,
    DataTable,
    Input,
    Select,
    Static,
    TabbedContent,
    TabPane,
)
from textual.widgets._data_table import RowDoesNotExist

from kiosk.doctor import Finding, Station
from kiosk.households import PROPERTY_WORDS, STATE_WORDS, household_detail, households
from kiosk.i18n import code_of, state_word, tr
from kiosk.screens.base import KioskScreen
from kiosk.widgets.compare_panel import ComparePanel, compare_words
from kiosk.widgets.review_panel import ReviewPanel, review_words
from printers.status import WORDS as PRINTER_WORDS
from store import KioskStore
from surveys.clock import from_epoch, now_local

BAR_WIDTH = 24
REFRESH_SECONDS = 10.0
REQUEST_SURVEY = "service_request"
EXPORT_FORMATS = ("xlsx", "csv", "pdf", "sav", "dta")
TEXTS_PER_PAGE = 12  # groups of identical answers on one page of the text-answer tab


def bar(share: float, width: int = BAR_WIDTH) -> str:
    """A horizontal bar for a share 0..1 in whole cells (the count and percentage beside it
    say the exact figure). Eighth blocks drew as uneven steps in the browser's xterm.js; a
    share above nothing still shows as one cell."""
    share = max(0.0, min(1.0, share))
    cells = round(share * width)
    return "█" * (cells or (1 if share > 0 else 0))


def group_answers(answers: Iterable[str]) -> list[tuple[str, int]]:
    """Identical answers (spaces around them ignored) once each with how many gave it, the
    most frequent first; equally frequent ones in the order they first came."""
    counts = Counter(text for text in (answer.strip() for answer in answers) if text)
    return counts.most_common()


def search_answers(groups: Sequence[tuple[str, int]], search: str) -> list[tuple[str, int]]:
    """The groups whose answer contains every word of ``search`` (case ignored, and
    full-width letters and digits match half-width ones: ＡＢ１ as AB1)."""
    words = folded(search).split()
    return [(text, count) for text, count in groups
            if all(word in folded(text) for word in words)]


def folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def page_count(items: int, per_page: int = TEXTS_PER_PAGE) -> int:
    return max(1, -(-items // per_page))


class TickBox(Checkbox):
    """A checkbox whose state shows at a glance and in words: "☑ 已选" white on green, or
    "☐ 未选" grey, and a green frame when ticked. Textual's own box is an X in both states,
    only its colour differs; and a lone ☑ draws small in the browser's terminal."""

    DEFAULT_CSS = """
    TickBox > .toggle--button { color: $text-muted; background: $panel-lighten-1; }
    TickBox.-on > .toggle--button { color: white; background: $success-darken-1;
                                    text-style: bold; }
    TickBox.-on { border: tall $success; }
    """

    def __init__(self, label: str, words: tuple[str, str], value: bool = False, *,
                 id: str | None = None, classes: str | None = None) -> None:
        self.words = words  # (ticked, not ticked), in the screen's language
        super().__init__(label, value, id=id, classes=classes)

    @property
    def _button(self) -> Content:
        style = self.get_visual_style("toggle--button")
        ticked, unticked = self.words
        return Content.assemble(
            (f" ☑ {ticked} " if self.value else f" ☐ {unticked} ", style))


def question_chart(question: dict[str, Any], language: str) -> RenderableType:
    """One question's tallies as a table of bars (selects and Likert) or a summary."""
    title = Text(f"{question.get('label', '')}  (n={question.get('n', 0)})", style="bold")
    if question.get("unit") == "instance":  # inside a repeat group: n counts instances
        title.append("  " + tr("dash.per_instance", language, instances=question["instances"],
                               submissions=question["submissions"]), style="cyan")
    kind = question.get("type")
    if kind in ("select_one", "select_multiple", "likert"):
        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column("choice", no_wrap=True)
        table.add_column("bar", no_wrap=True, style="green")
        table.add_column("count", justify="right")
        table.add_column("percent", justify="right")
        table.add_column("ci", style="dim", no_wrap=True)
        counts, percents = question.get("counts", {}), question.get("percent", {})
        intervals = question.get("ci95", {})
        for choice in question.get("choices", []):
            name = choice["name"]
            percent = percents.get(name)  # None while nobody answered
            interval = intervals.get(name)
            table.add_row(choice.get("label") or name, bar((percent or 0.0) / 100),
                          str(counts.get(name, 0)),
                          "—" if percent is None else f"{percent:.1f}%",
                          "" if not interval else f"[{interval[0]:.1f}–{interval[1]:.1f}]")
        parts: list[RenderableType] = [title, table]
        if kind == "likert" and question.get("mean") is not None:
            parts.append(Text(tr("dash.likert", language, mean=f"{question['mean']:.2f}",
                                 top2=f"{question.get('top2', 0):.1f}%"), style="cyan"))
        return Group(*parts, Text(""))
    if kind in ("integer", "decimal") and question.get("mean") is not None:
        summary = tr("dash.numbers", language, mean=f"{question['mean']:.2f}",
                     sd=f"{question.get('sd') or 0:.2f}", min=question["min"],
                     median=question["median"], max=question["max"])
        if question.get("out_of_range"):
            summary += tr("dash.out_of_range", language, n=question["out_of_range"])
        return Group(title, Text(summary), Text(""))
    if kind == "text":
        answers = tr("dash.text_answers", language, n=question.get("n", 0))
        if question.get("n"):
            answers += tr("dash.text_where", language)
        return Group(title, Text(answers), Text(""))
    return Group(title, Text(""))


def crosstab_table(crosstab: dict[str, Any], labels: dict[str, str],
                   group_labels: dict[str, str], language: str) -> Table:
    """Counts with row percentages, groups as rows."""
    table = Table(title=tr("dash.crosstab", language), show_lines=False)
    counts: dict[str, dict[str, int]] = crosstab.get("table", {})
    row_percent: dict[str, dict[str, float]] = crosstab.get("row_percent", {})
    choices = list(labels)
    table.add_column("")
    for choice in choices:
        table.add_column(labels[choice], justify="right")
    for group, row in counts.items():
        percents = row_percent.get(group, {})
        table.add_row(group_labels.get(group, group), *(
            f"{row.get(choice, 0)} ({percents.get(choice) or 0.0:.0f}%)" for choice in choices))
    return table


class StaffDashboardScreen(KioskScreen):
    """Tabs for the staff's work at the hall; closes by itself when left (idle watch)."""

    BINDINGS: ClassVar[list[Any]] = []
    DEFAULT_CSS = """
    /* The tabs fill the screen, so the text tab's page buttons stay in view below its list. */
    #dashboard-tabs, #dashboard-tabs > ContentSwitcher, #tab-texts { height: 1fr; }
    #texts-summary { height: auto; padding: 1 0 0 0; color: $text-muted; }
    #texts-scroll { height: 1fr; }
    #texts-pager { align-horizontal: center; }
    #texts-page { width: auto; padding: 1 2; }
    #tab-doctor { height: 1fr; }
    #doctor-summary { height: auto; padding: 1 0 0 0; }
    #doctor-scroll { height: 1fr; }
    """

    def __init__(self, store: KioskStore) -> None:
        super().__init__()
        self.store = store
        self.selected_request: str | None = None
        self.selected_job: int | None = None
        self.selected_household: str | None = None
        self.texts_page = 0  # the page of the text-answer tab on screen, from 0
        self._text_groups: list[tuple[str, int]] = []  # read once for a search or a page
        self._findings: dict[str, Finding] = {}  # the system check's, by check
        self._doctor_round = 0  # a newer check's findings replace an older one's

    # ---- layout --------------------------------------------------------------------------

    def compose_screen(self) -> ComposeResult:
        installed = {info.survey_id: info for info in self.store.list_forms()}
        surveys = [(installed[survey_id].title_in(self.language), survey_id)
                   for survey_id in self.kiosk.config.surveys if survey_id in installed]
        with Vertical(id="dashboard"):
            with Horizontal(id="dashboard-bar"):
                yield Static(self.t("dash.title"), id="dashboard-title", classes="big")
                yield Input(placeholder=self.t("dash.staff_name"), id="staff-name",
                            max_length=20)
                yield Button(self.t("dash.back"), id="dashboard-back")
            yield Static("", id="dashboard-status")
            yield Static("", id="set-aside-notice")
            with TabbedContent(id="dashboard-tabs"):
                with TabPane(self.t("dash.tab_stats"), id="tab-stats"):
                    with Horizontal(classes="dash-controls"):
                        yield Select(surveys, id="stats-survey", allow_blank=False,
                                     value=surveys[0][1] if surveys else Select.BLANK,
                                     classes="dash-grow")
                        yield Select([], id="stats-by", prompt=self.t("dash.by"),
                                     classes="dash-grow")
                        yield Select([], id="stats-question", prompt=self.t("dash.question"),
                                     classes="dash-grow")
                    with VerticalScroll(id="stats-scroll"):
                        yield Static("", id="stats-body")
                with TabPane(compare_words(self.language)["tab"], id="tab-compare"):
                    yield ComparePanel(self.store, surveys, self.language)  # --compare/--with
                with TabPane(review_words(self.language)["tab"], id="tab-review"):
                    yield ReviewPanel(self.store, surveys, self.language,  # kiosk review
                                      staff=self._need_staff_name, kiosk_id=self.kiosk.kiosk_id,
                                      status=self.status)
                with TabPane(self.t("dash.tab_texts"), id="tab-texts"):
                    with Horizontal(classes="dash-controls"):
                        yield Select(surveys, id="texts-survey", allow_blank=False,
                                     value=surveys[0][1] if surveys else Select.BLANK,
                                     classes="dash-grow")
                        yield Select([], id="texts-question", prompt=self.t("dash.question"),
                                     classes="dash-grow")
                        yield Input(placeholder=self.t("dash.texts_search"),
                                    id="texts-search", max_length=40, classes="dash-grow")
                    yield Static("", id="texts-summary")
                    with VerticalScroll(id="texts-scroll"):
                        yield Static("", id="texts-body")
                    with Horizontal(classes="dash-controls", id="texts-pager"):
                        yield Button(self.t("dash.texts_previous"), id="texts-previous")
                        yield Static("", id="texts-page")
                        yield Button(self.t("dash.texts_next"), id="texts-next")
                with TabPane(self.t("dash.tab_requests"), id="tab-requests"):
                    yield DataTable(id="requests", cursor_type="row", zebra_stripes=True)
                    yield Static("", id="request-detail")
                    with Horizontal(classes="dash-controls"):
                        yield Input(placeholder=self.t("dash.note"), id="request-note",
                                    max_length=200, classes="dash-grow")
                        yield Button(self.t("dash.start"), id="request-start")
                        yield Button(self.t("dash.close"), id="request-close",
                                     variant="success")
                with TabPane(self.t("dash.tab_printing"), id="tab-printing"):
                    yield DataTable(id="print-jobs", cursor_type="row", zebra_stripes=True)
                    with Horizontal(classes="dash-controls"):
                        yield Button(self.t("dash.retry"), id="job-retry")
                        yield Button(self.t("dash.cancel"), id="job-cancel")
                        yield Button(self.t("dash.reprint"), id="job-reprint",
                                     variant="primary")
                with TabPane(self.t("dash.tab_volunteers"), id="tab-volunteers"):
                    yield DataTable(id="volunteers-today", cursor_type="row",
                                    zebra_stripes=True)
                with TabPane(self.t("dash.tab_households"), id="tab-households"):
                    yield Static("", id="households-summary")
                    yield DataTable(id="households", cursor_type="row", zebra_stripes=True)
                    with VerticalScroll(id="household-scroll"):
                        yield Static("", id="household-detail")
                with TabPane(self.t("dash.tab_export"), id="tab-export"), Vertical(
                        id="export-form"):
                    yield Select(surveys, id="export-survey", allow_blank=False,
                                 value=surveys[0][1] if surveys else Select.BLANK,
                                 classes="export-field")
                    yield Select([(self._format_label(name), name)
                                  for name in EXPORT_FORMATS],
                                 id="export-format", allow_blank=False, value="xlsx",
                                 classes="export-field")
                    yield Input(value=str(default_export_folder()), id="export-folder",
                                classes="export-field")
                    ticks = self.t("dash.ticked"), self.t("dash.unticked")
                    yield TickBox(self.t("dash.labels"), ticks, value=True,
                                  id="export-labels", classes="export-field")
                    yield TickBox(self.t("dash.include_pii"), ticks, id="export-pii",
                                  classes="export-field")
                    yield Button(self.t("dash.export"), id="export-go", variant="primary",
                                 classes="export-field")
                    yield Button(self.t("dash.export_set_aside"), id="export-set-aside",
                                 classes="export-field")
                with TabPane(self.t("dash.tab_doctor"), id="tab-doctor"):
                    with Horizontal(classes="dash-controls"):
                        yield Button(self.t("dash.doctor_run"), id="doctor-run",
                                     variant="primary")
                        yield Button(self.t("dash.doctor_speak"), id="doctor-speak")
                        yield Input(placeholder=self.t("dash.doctor_scan"), id="doctor-scan",
                                    max_length=200, classes="dash-grow")
                    yield Static("", id="doctor-summary")
                    with VerticalScroll(id="doctor-scroll"):
                        yield Static("", id="doctor-body")

    def _format_label(self, name: str) -> str:
        return {"xlsx": "Excel (.xlsx)", "csv": "CSV (.csv)", "pdf": self.t("dash.pdf"),
                "sav": "SPSS (.sav)", "dta": "Stata (.dta)"}[name]

    def on_mount(self) -> None:
        super().on_mount()
        self.set_focus(None)
        self._setup_tables()
        self._fill_by_choices()
        self._fill_text_questions()
        self.refresh_all()
        self.set_interval(REFRESH_SECONDS, self.refresh_live)

    def _setup_tables(self) -> None:
        for table, columns in (("#requests", "requests"), ("#print-jobs", "print_jobs"),
                               ("#volunteers-today", "volunteers"),
                               ("#households", "households")):
            self.query_one(table, DataTable).add_columns(
                *self.t(f"dash.columns.{columns}").split())

    # ---- refreshing ----------------------------------------------------------------------

    def refresh_all(self) -> None:
        self.refresh_set_aside()
        self.refresh_stats()
        self.refresh_texts()
        self.refresh_requests()
        self.refresh_print_jobs()
        self.refresh_volunteers()
        self.refresh_households()

    def refresh_live(self) -> None:
        """Figures move while residents answer: refresh what is on screen."""
        self.refresh_set_aside()
        active = self.query_one("#dashboard-tabs", TabbedContent).active
        {"tab-stats": self.refresh_stats, "tab-requests": self.refresh_requests,
         "tab-printing": self.refresh_print_jobs,
         "tab-volunteers": self.refresh_volunteers,
         "tab-households": self.refresh_households}.get(active, lambda: None)()

    def status(self, text: str, problem: bool = False) -> None:
        status = self.query_one("#dashboard-status", Static)
        status.update(text)
        status.set_class(problem, "trouble")

    def refresh_set_aside(self) -> None:
        """Rows a sync could not send stay on this kiosk: staff must know they are there."""
        count = self.store.set_aside_count()
        notice = self.query_one("#set-aside-notice", Static)
        notice.update(self.t("dash.set_aside", n=count) if count else "")
        notice.display = bool(count)
        self.query_one("#export-set-aside", Button).display = bool(count)

    # ---- statistics ----------------------------------------------------------------------

    @property
    def stats_survey(self) -> str | None:
        value = self.query_one("#stats-survey", Select).value
        return value if isinstance(value, str) else None

    def _fill_by_choices(self) -> None:
        survey_id = self.stats_survey
        options: list[tuple[str, str]] = []
        if survey_id:
            form = self.store.load_form(survey_id)
            language = form.language_or_default(self.language)
            options = [(form.text(item.label, language) or item.name, item.name)
                       for item in form.value_items
                       if item.kind in ("select_one", "select_multiple") and not item.pii]
        # Groups are submissions: a question inside a repeat (one answer per member) may be
        # crossed, never grouped by (the statistics refuse it).
        once = [(label, name) for label, name in options
                if not form.repeat_chain.get(name)] if survey_id else []
        self.query_one("#stats-by", Select).set_options(once)
        self.query_one("#stats-question", Select).set_options(options)

    def refresh_stats(self) -> None:
        survey_id = self.stats_survey
        body = self.query_one("#stats-body", Static)
        if not survey_id:
            body.update(self.t("dash.no_surveys"))
            return
        from surveys.stats.figures import survey_statistics
        from surveys.stats.model import StatsFilter

        by = self.query_one("#stats-by", Select).value
        question = self.query_one("#stats-question", Select).value
        by_name = by if isinstance(by, str) else None
        question_name = question if isinstance(question, str) and by_name else None
        stats = survey_statistics(self.store, survey_id, StatsFilter(), by=by_name,
                                  question=question_name, language=self.language,
                                  text_answers=False)
        parts: list[RenderableType] = [Text(self.t("dash.n", n=stats["n"]), style="bold")]
        crosstab = stats.get("crosstab")
        if crosstab and question_name and by_name:
            asked, grouping = stats["questions"][question_name], stats["questions"][by_name]
            parts.append(crosstab_table(
                crosstab, {c["name"]: c["label"] for c in asked.get("choices", [])},
                {c["name"]: c["label"] for c in grouping.get("choices", [])}, self.language))
            if crosstab.get("test"):  # its chi-square test in plain words
                parts.append(Text(crosstab["test"]["sentence"]))
            parts.append(Text(""))
        parts.extend(question_chart(figures, self.language)
                     for figures in stats["questions"].values())
        body.update(Group(*parts))

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "stats-survey":
            self._fill_by_choices()
            self.refresh_stats()
        elif event.select.id in ("stats-by", "stats-question"):
            self.refresh_stats()
        elif event.select.id == "texts-survey":
            self._fill_text_questions()
        elif event.select.id == "texts-question":
            self.texts_page = 0
            self.refresh_texts()

    # ---- text answers --------------------------------------------------------------------
    # Not refreshed every few seconds: a page staff are reading must not move under them.
    # Opening the tab, another question, a search or a page reads the answers afresh.

    def _fill_text_questions(self) -> None:
        """The survey's text questions with how many answered each; the most answered is
        shown first. Personal ones (names, phones, addresses) are left out, as in the
        tallies: they are for the export with personal data only."""
        from surveys.stats.figures import survey_statistics

        survey = self.query_one("#texts-survey", Select).value
        counted: list[tuple[str, str, int]] = []
        if isinstance(survey, str):
            stats = survey_statistics(self.store, survey, language=self.language,
                                      text_answers=False)
            counted = [(figures.get("label") or name, name, int(figures.get("n") or 0))
                       for name, figures in stats["questions"].items()
                       if figures.get("type") == "text"]
        questions = self.query_one("#texts-question", Select)
        questions.set_options([(self.t("dash.texts_question", label=label, n=n), name)
                               for label, name, n in counted])
        if counted:
            questions.value = max(counted, key=lambda question: question[2])[1]
        self.texts_page = 0
        self.refresh_texts()

    def refresh_texts(self, reload: bool = True) -> None:
        """Show the page; ``reload=False`` (a search, another page) keeps the answers read."""
        from surveys.stats.model import StatsFilter

        survey = self.query_one("#texts-survey", Select).value
        question = self.query_one("#texts-question", Select).value
        summary = self.query_one("#texts-summary", Static)
        body = self.query_one("#texts-body", Static)
        if not isinstance(survey, str) or not isinstance(question, str):
            summary.update(self.t("dash.texts_none"))
            body.update("")
            self._show_page(0, 1)
            return
        if reload:
            self._text_groups = group_answers(
                self.store.stats_texts(survey, question, StatsFilter()))
        groups = self._text_groups
        search = self.query_one("#texts-search", Input).value.strip()
        shown = search_answers(groups, search) if search else groups
        pages = page_count(len(shown))
        self.texts_page = min(self.texts_page, pages - 1)
        answers, kinds = sum(count for _, count in shown), len(shown)
        if search:
            summary.update(self.t("dash.texts_found", search=search, n=answers, kinds=kinds,
                                  total=sum(count for _, count in groups)))
        else:
            summary.update(self.t("dash.texts_summary", n=answers, kinds=kinds))
        table = Table(box=None, show_header=True, pad_edge=False, expand=True,
                      header_style="bold")
        table.add_column(self.t("dash.texts_count"), justify="right", no_wrap=True,
                         style="bold cyan")
        table.add_column(self.t("dash.texts_answer"), ratio=1)
        start = self.texts_page * TEXTS_PER_PAGE
        for text, count in shown[start:start + TEXTS_PER_PAGE]:
            table.add_row(str(count), Text(text))  # Text: an answer is never markup
        body.update(table if shown else Text(self.t("dash.texts_nothing")))
        self._show_page(self.texts_page, pages)

    def _show_page(self, page: int, pages: int) -> None:
        self.query_one("#texts-page", Static).update(
            self.t("dash.texts_page", page=page + 1, pages=pages))
        self.query_one("#texts-previous", Button).disabled = page == 0
        self.query_one("#texts-next", Button).disabled = page >= pages - 1

    def turn_text_page(self, step: int) -> None:
        self.texts_page = max(0, self.texts_page + step)
        self.refresh_texts(reload=False)
        self.query_one("#texts-scroll", VerticalScroll).scroll_home(animate=False)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "texts-search":
            self.texts_page = 0
            self.refresh_texts(reload=False)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "tab-texts":
            self.refresh_texts()
        elif event.pane.id == "tab-review":
            self.query_one(ReviewPanel).refresh_queue()  # what came in since
        elif event.pane.id == "tab-doctor" and not self._findings:
            self.run_doctor()  # checked when first opened; 重新检查 checks again

    # ---- households ------------------------------------------------------------------------

    @property
    def household_list(self) -> str | None:
        """The register shown: households, else the first there is."""
        lists = self.store.entity_lists()
        return "households" if "households" in lists else next(iter(lists), None)

    def _due_word(self, record: dict[str, Any], today: dt.date) -> str:
        if record["due"] is None:
            return "—"
        days = (dt.date.fromisoformat(record["due"]) - today).days
        if days < 0:
            return self.t("dash.overdue", days=-days)
        return self.t("dash.due_today") if days == 0 else self.t("dash.due_in", days=days)

    def refresh_households(self) -> None:
        """The register, the longest overdue household first. Names, addresses and phones
        are shown as the request tab shows a resident's: staff came in with the PIN."""
        table = self.query_one("#households", DataTable)
        summary = self.query_one("#households-summary", Static)
        table.clear()
        dataset = self.household_list
        if dataset is None:
            summary.update(self.t("dash.households_none"))
            self._show_household()
            return
        today = now_local().date()
        every = self.kiosk.config.visit_days(dataset)
        records = households(self.store, dataset, today, every, include_pii=True)
        for record in records:
            table.add_row(self._due_word(record, today), record["label"],
                          STATE_WORDS.get(record["state"], record["state"]),
                          record["properties"].get("plan", "")[:24],
                          record["last_change"][:10], str(record["visits"]),
                          self.t("dash.has_conflict") if record["conflicts"] else "",
                          key=record["id"])
        late = sum(1 for record in records if record["overdue_days"])
        summary.update(self.t("dash.households_summary", count=len(records), late=late,
                              days=every))
        keep_cursor(table, self.selected_household)
        self._show_household()

    def _show_household(self) -> None:
        detail = self.query_one("#household-detail", Static)
        dataset = self.household_list
        if self.selected_household is None or dataset is None:
            detail.update(self.t("dash.household_pick") if dataset else "")
            return
        record = household_detail(self.store, dataset, self.selected_household,
                                  now_local().date(), self.kiosk.config.visit_days(dataset),
                                  include_pii=True)
        if record is None:
            detail.update("")
            return
        labels = {**PROPERTY_WORDS, **self.store.register_labels(dataset, self.language)}
        titles = {info.survey_id: info.title_in(self.language)
                  for info in self.store.list_forms()}
        lines = [record["label"]]
        lines += [f"  {labels.get(name, name)}：{STATE_WORDS.get(value, value)}"
                  for name, value in record["properties"].items()]
        lines.append(self.t("dash.household_visits"))
        lines += [f"  {visit['completed'][:16].replace('T', ' ')}  "
                  f"{titles.get(visit['survey'], visit['survey'] or '')}  "
                  f"{visit['kiosk'] or ''}".rstrip() for visit in record["visit_list"]]
        if record["conflicts"]:
            lines.append(self.t("dash.household_conflict"))
        detail.update(Content("\n".join(lines)))

    # ---- service requests ----------------------------------------------------------------

    def refresh_requests(self) -> None:
        table = self.query_one("#requests", DataTable)
        table.clear()
        if REQUEST_SURVEY not in {info.survey_id for info in self.store.list_forms()}:
            return
        form = self.store.load_form(REQUEST_SURVEY)
        language = form.language_or_default(self.language)

        def label(name: str, answers: dict[str, Any]) -> str:
            value = answers.get(name)
            item = form.by_name.get(name)
            if value is None or item is None:
                return ""
            choice = form.choice(item, str(value))
            return form.text(choice.label, language) if choice else str(value)

        for request in self.store.service_requests(REQUEST_SURVEY):
            answers = request["answers"]
            table.add_row(request["receipt_code"], request["completed"][5:16],
                          label("category", answers), label("urgency", answers),
                          label("community", answers),
                          state_word("request_state", request["status"], self.language),
                          request["note"] or "", key=request["instance_id"])
        keep_cursor(table, self.selected_request)
        self._show_request()

    def _show_request(self) -> None:
        detail = self.query_one("#request-detail", Static)
        if self.selected_request is None:
            detail.update(self.t("dash.pick_request"))
            return
        record = self.store.submission_record(self.selected_request)
        if record is None:
            detail.update("")
            return
        answers = record["answers"]
        detail.update(self.t("dash.request_detail",
                             description=answers.get("description", ""),
                             name=answers.get("contact_name", ""),
                             phone=answers.get("contact_phone", ""),
                             address=answers.get("contact_address", "")))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value if event.row_key is not None else None
        if event.data_table.id == "requests":
            self.selected_request = key
            self._show_request()
        elif event.data_table.id == "households":
            self.selected_household = key
            self._show_household()
        elif event.data_table.id == "print-jobs":
            self.selected_job = int(key) if key else None

    def staff_name(self) -> str:
        return self.query_one("#staff-name", Input).value.strip()

    def _need_staff_name(self) -> str | None:
        name = self.staff_name()
        if not name:
            self.status(self.t("dash.need_name"), problem=True)
            self.query_one("#staff-name", Input).focus()
            return None
        return name

    def set_request_status(self, status: str) -> None:
        if self.selected_request is None:
            self.status(self.t("dash.pick_request"), problem=True)
            return
        staff = self._need_staff_name()
        if staff is None:
            return
        note = self.query_one("#request-note", Input).value.strip()
        self.store.set_request_status(self.selected_request, status, note=note, staff=staff,
                                      kiosk=self.kiosk.kiosk_id, at=self.kiosk.epoch())
        self.query_one("#request-note", Input).value = ""
        code = self.store.receipt_code_of(self.selected_request) or ""
        self.status(self.t("dash.request_done", code=code,
                           state=state_word("request_state", status, self.language)))
        self.refresh_requests()

    # ---- print queue ---------------------------------------------------------------------

    def refresh_print_jobs(self) -> None:
        table = self.query_one("#print-jobs", DataTable)
        table.clear()
        for job in self.store.print_jobs(limit=50):
            state = state_word("print_state", job.state, self.language) + (
                f" · {self.t('print.reprint_mark')}" if job.reprint else "")
            table.add_row(str(job.id), job.created[5:16].replace("T", " "),
                          state_word("print_kind", job.kind, self.language), job.title,
                          state, str(job.attempts),
                          job.last_error or self._printer_word(job.last_status),
                          key=str(job.id))
        keep_cursor(table, None if self.selected_job is None else str(self.selected_job))

    def _printer_word(self, status: str) -> str:
        """What the printer last said, in the screen's language (正常, 缺纸 …)."""
        return PRINTER_WORDS[code_of(self.language)].get(status, status)

    def act_on_job(self, action: str) -> None:
        from store.errors import PrintJobError

        if self.selected_job is None:
            self.status(self.t("dash.pick_job"), problem=True)
            return
        job_id, now = self.selected_job, self.kiosk.epoch()
        try:
            if action == "retry":
                self.store.retry_print_job(job_id, now)
            elif action == "cancel":
                self.store.cancel_print_job(job_id)
            else:
                job_id = self.store.reprint_print_job(job_id, now, kiosk=self.kiosk.kiosk_id)
        except PrintJobError as error:
            self.status(str(error), problem=True)
            return
        self.audit(f"print_{action}", str(self.selected_job),
                   "" if action != "reprint" else f"new job {job_id}")
        self.status(self.t(f"dash.job_{action}", job=self.selected_job))
        self.refresh_print_jobs()

    # ---- volunteers ----------------------------------------------------------------------

    def refresh_volunteers(self) -> None:
        from kiosk.i18n import hours_text
        from kiosk.volunteers.hours import sessions_between

        settings = self.kiosk.config.volunteers
        today = dt.datetime.fromtimestamp(self.kiosk.epoch(), settings.zone).date()
        table = self.query_one("#volunteers-today", DataTable)
        table.clear()
        for item in sessions_between(self.store, settings, start=today, end=today):
            volunteer = self.store.volunteer(item.number)
            out = f"{item.checked_out:%H:%M}" if item.checked_out else "—"
            table.add_row(item.number, volunteer.name if volunteer else "",
                          volunteer.team if volunteer else "", f"{item.checked_in:%H:%M}",
                          out, hours_text(item.hours) if item.state == "credited" else "",
                          state_word("session_state", item.state, self.language),
                          key=str(item.id))

    # ---- export --------------------------------------------------------------------------

    def export(self) -> None:
        from surveys.exports import export_survey

        survey = self.query_one("#export-survey", Select).value
        file_format = self.query_one("#export-format", Select).value
        include_pii = self.query_one("#export-pii", Checkbox).value
        labels = self.query_one("#export-labels", Checkbox).value
        if not isinstance(survey, str) or not isinstance(file_format, str):
            return
        if include_pii and self._need_staff_name() is None:
            return
        notes: list[str] = []
        self._export_to_folder(
            survey, file_format, lambda target: export_survey(
                self.store, survey, target, file_format=file_format, labels=labels,
                include_pii=include_pii, language=self.language, notes=notes,
                station=self.kiosk.config.station_name),
            " with personal data" if include_pii else "", notes)

    def export_set_aside(self) -> None:
        from kiosk.central.set_aside import write_set_aside

        if self._need_staff_name() is None:  # the rows may hold personal data
            return
        self._export_to_folder("set-aside", "jsonl",
                               lambda target: write_set_aside(self.store, target))

    def _export_to_folder(self, name: str, suffix: str, write: Callable[[Path], int],
                          detail: str = "", notes: Sequence[str] = ()) -> None:
        """Write ``name-<time>.suffix`` into the export folder, then audit and say it."""
        from surveys.exports import ExportError

        folder = Path(self.query_one("#export-folder", Input).value.strip() or ".")
        if not folder.is_dir():
            self.status(self.t("dash.no_folder", folder=folder), problem=True)
            return
        stamp = from_epoch(self.kiosk.epoch()).strftime("%Y%m%d-%H%M")
        target = folder / f"{name}-{stamp}.{suffix}"
        try:
            count = write(target)
        except (ExportError, OSError) as error:
            self.status(self.t("dash.export_failed", folder=folder, error=error), problem=True)
            return
        self.audit("export", name, f"{suffix} {count} rows to {target}{detail}")
        self.status(self.t("dash.exported", count=count, path=target)
                    + "".join(f"\n{note}" for note in notes))

    # ---- system check ----------------------------------------------------------------------
    # The checks of `kiosk doctor` (kiosk/doctor.py). They wait on the printer, the disk and
    # the network, so they run in a thread and the screen shows them when they are done.
    # The printer is read from the print queue's last status: its worker holds the port.

    def doctor_station(self, *, speak: bool = False) -> Station:
        from kiosk.paths import default_config_path

        config = self.kiosk.config
        return Station(self.store.path, config.path or default_config_path(), config,
                       printer_state=self.kiosk.printer_state, speak=speak)

    def run_doctor(self, only: Sequence[str] | None = None, *, speak: bool = False) -> None:
        """Run the checks (``only`` these) in a thread; the findings replace those shown."""
        from kiosk.doctor import run_checks

        self._doctor_round += 1
        round_, station = self._doctor_round, self.doctor_station(speak=speak)
        self.query_one("#doctor-summary", Static).update(self.t("dash.doctor_running"))

        def check() -> None:
            findings = run_checks(station, only)
            with contextlib.suppress(RuntimeError):  # the app closed meanwhile
                self.app.call_from_thread(self.show_findings, findings, round_)

        self.run_worker(check, thread=True, group="doctor", exit_on_error=False)

    def show_findings(self, findings: Sequence[Finding], round_: int | None = None) -> None:
        """Show ``findings`` in place of the same checks' earlier ones (a check that was
        started before the latest is dropped)."""
        from kiosk.doctor import CHECK_IDS, STATE_MARKS, STATE_WORDS, summary_words

        if not self.is_attached or (round_ is not None and round_ != self._doctor_round):
            return
        for finding in findings:
            self._findings[finding.check] = finding
        shown = [self._findings[check] for check in CHECK_IDS if check in self._findings]
        table = Table(box=None, show_header=False, pad_edge=False, expand=True)
        table.add_column("status", no_wrap=True)
        table.add_column("check", no_wrap=True, style="bold")
        table.add_column("finding", ratio=1)
        for finding in shown:
            mark, colour = STATE_MARKS[finding.status]
            # Text: a file name or a scan is never markup; fold: Chinese has no spaces to
            # wrap at, and a long run would be cut short with "…".
            said = Text(finding.detail, overflow="fold")
            if finding.fix and finding.status != "ok":
                said.append(f"\n怎么办：{finding.fix}", style="cyan")
            table.add_row(Text(f"{mark} {STATE_WORDS[finding.status]}", style=f"bold {colour}"),
                          finding.title, said)
            table.add_row("", "", "")
        checked = from_epoch(self.kiosk.epoch()).strftime("%H:%M")
        note = self.t("dash.doctor_chinese")
        self.query_one("#doctor-summary", Static).update(
            f"{summary_words(shown)}（{checked}）" + (f"  {note}" if note else ""))
        self.query_one("#doctor-body", Static).update(table)

    def take_card_scan(self, text: str) -> bool:
        """A card the scanner read (the app asks before checking anyone in): on the system
        check's tab it is the scanner test, and nobody is checked in or out."""
        if self.query_one("#dashboard-tabs", TabbedContent).active != "tab-doctor":
            return False
        from kiosk.doctor import scan_finding

        self.query_one("#doctor-scan", Input).value = ""
        self.show_findings([scan_finding(self.doctor_station(), text)])
        return True

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "doctor-scan" or not event.value.strip():
            return
        from kiosk.doctor import scan_finding

        # It reached the box as typing: the kiosk did not take it for a scan.
        finding = scan_finding(self.doctor_station(), event.value, typed=True)
        event.input.value = ""
        self.show_findings([finding])

    # ---- audit and buttons ---------------------------------------------------------------

    def audit(self, action: str, target: str, detail: str = "") -> None:
        self.store.add_audit(action, target, detail, staff=self.staff_name() or "PIN",
                             kiosk=self.kiosk.kiosk_id, at=self.kiosk.epoch())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        button = event.button.id
        if button == "dashboard-back":
            self.kiosk.open_staff_menu()
        elif button == "request-start":
            self.set_request_status("in_progress")
        elif button == "request-close":
            self.set_request_status("closed")
        elif button in ("job-retry", "job-cancel", "job-reprint"):
            self.act_on_job(button.removeprefix("job-"))
        elif button == "export-go":
            self.export()
        elif button == "export-set-aside":
            self.export_set_aside()
        elif button in ("texts-previous", "texts-next"):
            self.turn_text_page(-1 if button == "texts-previous" else 1)
        elif button == "doctor-run":
            self.run_doctor()
        elif button == "doctor-speak":
            self.run_doctor(["speaker"], speak=True)


def keep_cursor(table: DataTable[Any], key: str | None) -> None:
    """After a refresh, the cursor goes back to the row staff had picked (if it is still
    there): the live refresh must not move a status change to another request."""
    if key is None:
        return
    with contextlib.suppress(RowDoesNotExist):
        table.move_cursor(row=table.get_row_index(key))


def default_export_folder() -> Path:
    """A USB stick if one is mounted (Debian mounts them under /media/<user>/), else home."""
    for root in (Path("/media"), Path("/run/media")):
        try:
            sticks = sorted(path for user in root.iterdir() if user.is_dir()
                            for path in user.iterdir() if path.is_dir())
        except OSError:
            continue
        if sticks:
            return sticks[0]
    return Path.home()
