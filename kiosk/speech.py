"""Read aloud (朗读): speak a question and its choices through espeak-ng.

Many residents read little or see poorly. Where espeak-ng is installed (Debian package
``espeak-ng``), the question screens offer a 朗读 button and key; without it the button is
hidden. API for the screens::

    from kiosk import speech

    speech.available(language) -> bool
        espeak-ng is on PATH and can speak this language ("zh"/"en", or a session language
        such as "中文 (zh)"). Cheap after the first call. Hide the button when False.
    speech.speech_text(view, language, *, number_keys=None) -> str
        What to say for a ``ScreenView``: title, each label, 必答, hint, the choices as
        "第1项，非常满意。第2项，满意。…" (numbered when the number keys pick them, i.e. the same
        rule as FormScreen: exactly one select question and nothing to type), the answer
        already given. English words in English mode. Markup and symbols (※ ○ 【】 …) removed.
    speaker = speech.Speaker()              # one per app
    speaker.say(text, language) -> bool     # never blocks, never raises; stops what is playing
    speaker.say_screen(view, language) -> bool   # say(speech_text(view, language), language)
    speaker.stop()                          # on 朗读 pressed again, screen change, idle reset, exit
    speaker.speaking -> bool; speaker.last_error -> str | None

    speech.synthesize(text, language, path, *, rate=None) -> Path   # a WAV file (kiosk say -o)
    speech.speak(text, language, *, rate=None, timeout=None) -> None  # blocks; SpeechError
    speech.wav_duration(path) -> float

espeak-ng plays through the default audio device of the machine that runs the app. Under
textual-serve (tablets) that is the server, not the tablet: hide the button when
``app.is_web``. A kiosk without a working audio output fails quietly: ``say`` logs a warning
and sets ``last_error`` (espeak-ng exits 0 even then, so its error lines are what tell).

Voices: on Debian 12 (espeak-ng 1.51) the voice ``cmn`` speaks the pinyin of most characters
as English with the tone digit ("jin one" for 今); ``cmn-latn-pinyin`` speaks them correctly,
so it is preferred, with ``cmn`` as the fallback on builds without it. Latin words inside
Chinese text (WiFi, A栋) go to the English voice and Chinese inside English text (an
untranslated label) to the Mandarin one, through SSML ``<voice>`` switches. Numbers are turned
into words here because espeak-ng's Mandarin reads 10000 as "十千", drops the point of 2.5 and
reads phone numbers as one huge number.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import functools
import html
import logging
import re
import shutil
import subprocess
import threading
import unicodedata
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

EXECUTABLE = "espeak-ng"
INSTALL_HINT = ("read aloud needs espeak-ng: install the Debian package espeak-ng "
                "(sudo apt-get install espeak-ng)")
# Words per minute. espeak-ng's default is 175; elderly listeners follow slower speech better.
# 150 gives Mandarin about 3 characters a second (~180 a minute, where news reading is ~240),
# and 140 wpm is the usual advice for English to older listeners.
RATES = {"zh": 150, "en": 140}
# Preferred first: see the module docstring on `cmn`.
VOICE_CANDIDATES = {"zh": ("cmn-latn-pinyin", "cmn"), "en": ("en", "en-gb", "en-us")}
SYNTHESIS_TIMEOUT = 120.0  # seconds; a whole screen takes well under a second to synthesise

SELECT_KINDS = ("select_one", "select_multiple")
INPUT_KINDS = ("integer", "decimal", "text", "date")


class SpeechError(RuntimeError):
    """espeak-ng could not produce or play the speech."""


class SpeechUnavailable(SpeechError):
    """espeak-ng is not installed, or has no voice for the language."""


# ---- what espeak-ng can do here -------------------------------------------------------------


def language_code(language: str | None) -> str:
    """"zh", "en" (or another code) from "zh", "en", "中文 (zh)", "English (en)", "zh-CN"."""
    text = (language or "zh").strip().lower()
    found = re.search(r"\(([a-z]{2,3})(?:[-_][a-z0-9]+)*\)\s*$", text)
    if found:
        text = found.group(1)
    text = re.split(r"[-_ ]", text)[0]
    if text in ("zh", "cmn", "chinese", "中文", "汉语", "普通话"):
        return "zh"
    if text in ("en", "english", "英文", "英语"):
        return "en"
    return text


def executable() -> str | None:
    """The espeak-ng program on PATH, or None."""
    return shutil.which(EXECUTABLE)


@functools.lru_cache(maxsize=8)
def _voices(program: str) -> dict[str, str]:
    """Language code -> the espeak-ng voice that speaks it, for voices that really speak."""
    try:
        listing = subprocess.run([program, "--voices"], capture_output=True, text=True,
                                 timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError) as error:
        log.warning("read aloud: %s --voices failed: %s", program, error)
        return {}
    # Columns: Pty Language Age/Gender VoiceName File Other-languages
    names = {line.split()[1].lower() for line in listing.splitlines()[1:] if len(line.split()) > 1}
    found = {}
    for code, candidates in VOICE_CANDIDATES.items():
        for voice in candidates:
            if voice in names and _can_speak(program, voice):
                found[code] = voice
                break
    return found


def _can_speak(program: str, voice: str) -> bool:
    """A listed voice may still lack its dictionary: synthesise a syllable to be sure."""
    try:
        result = subprocess.run([program, "-v", voice, "--stdout"], input="好".encode(),
                                capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0 and len(result.stdout) > 1000


def voice_for(language: str | None) -> str | None:
    """The espeak-ng voice used for a language here, or None when it cannot be spoken."""
    program = executable()
    if program is None:
        return None
    return _voices(program).get(language_code(language))


def available(language: str | None = "zh") -> bool:
    """True when espeak-ng is installed and can speak ``language`` (default Mandarin)."""
    return voice_for(language) is not None


def _require(language: str) -> tuple[str, dict[str, str]]:
    program = executable()
    if program is None:
        raise SpeechUnavailable(INSTALL_HINT)
    voices = _voices(program)
    code = language_code(language)
    if code not in voices:
        known = ", ".join(sorted(voices)) or "none"
        raise SpeechUnavailable(f"espeak-ng at {program} has no working voice for "
                                f"'{language}' (languages it can speak here: {known})")
    return program, voices


# ---- the words for a screen ------------------------------------------------------------------


@dataclass(frozen=True)
class _Phrases:
    required: str
    multiple: str
    multiple_marks: tuple[str, ...]
    choice: str
    choices: str
    prompts: dict[str, str]
    chosen: str
    filled: str
    separator: str
    stop: str
    joiner: str


PHRASES = {
    "zh": _Phrases(
        required="必答", multiple="可以选多项", multiple_marks=("多选", "多项"),
        choice="第{number}项，{label}", choices="选项有：",
        prompts={"integer": "请输入数字", "decimal": "请输入数字", "text": "请在框里输入",
                 "date": "请输入日期", "acknowledge": "请点确认"},
        chosen="您已选：", filled="已填：", separator="、", stop="。", joiner=""),
    "en": _Phrases(
        required="Required", multiple="You may choose more than one",
        multiple_marks=("more than one", "all that apply", "several"),
        choice="Choice {number}, {label}", choices="Choices: ",
        prompts={"integer": "Please type a number", "decimal": "Please type a number",
                 "text": "Please type your answer", "date": "Please enter a date",
                 "acknowledge": "Please tap the confirm button"},
        chosen="Your answer: ", filled="Your answer: ", separator=", ", stop=".", joiner=" "),
}


def speech_text(view: Any, language: str | None, *, number_keys: bool | None = None) -> str:
    """The words to speak for a screen (a ``surveys.session.ScreenView``).

    ``number_keys`` says whether choices are announced with their numbers ("第1项，…"); by
    default the same rule as the form screen: exactly one select question on the screen and
    no box to type in.
    """
    code = "en" if language_code(language) == "en" else "zh"
    phrases = PHRASES[code]
    questions = list(view.questions)
    if number_keys is None:
        selects = [q for q in questions if q.kind in SELECT_KINDS and not q.read_only]
        typing = [q for q in questions if q.kind in INPUT_KINDS and not q.read_only]
        number_keys = len(selects) == 1 and not typing
    parts: list[str] = []
    first_label = questions[0].label if questions else ""
    if view.title and clean_text(view.title, code) != clean_text(first_label, code):
        parts.append(view.title)
    for question in questions:
        parts.extend(_question_parts(question, code, number_keys))
    sentences = [_sentence(part, code) for part in parts]
    return phrases.joiner.join(sentence for sentence in sentences if sentence)


def _question_parts(question: Any, code: str, number_keys: bool) -> list[str]:
    phrases = PHRASES[code]
    parts = [question.label]
    kind = question.kind
    if question.required and kind != "note" and not question.read_only:
        parts.append(phrases.required)
    if question.hint:
        parts.append(question.hint)
    if kind == "note":
        return parts
    answer = _answer_text(question, phrases)
    said_before = phrases.chosen if kind in SELECT_KINDS else phrases.filled
    if question.read_only:
        if answer:
            parts.append(phrases.filled + answer)
        return parts
    if kind in SELECT_KINDS:
        said = f"{question.label} {question.hint}".lower()
        if kind == "select_multiple" and not any(m in said for m in phrases.multiple_marks):
            parts.append(phrases.multiple)
        if number_keys:
            parts.extend(phrases.choice.format(number=number, label=choice.label)
                         for number, choice in enumerate(question.choices, start=1))
        elif question.choices:
            parts.append(phrases.choices + phrases.separator.join(
                clean_text(choice.label, code) for choice in question.choices))
    elif kind in phrases.prompts:
        parts.append(phrases.prompts[kind])
    if answer and kind != "acknowledge":
        parts.append(said_before + answer)
    return parts


def _answer_text(question: Any, phrases: _Phrases) -> str:
    value = getattr(question, "value", None)
    if value is None or value == "" or value == []:
        return ""
    if question.kind in SELECT_KINDS:
        chosen = value if isinstance(value, list) else [value]
        labels = {choice.name: choice.label for choice in question.choices}
        return phrases.separator.join(labels.get(str(name), str(name)) for name in chosen)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _sentence(text: str, code: str) -> str:
    """A cleaned part that ends with a full stop, so espeak-ng pauses between parts."""
    text = clean_text(text, code)
    if not text:
        return ""
    if text[-1] in "。！？.!?":
        return text
    stop = PHRASES[code].stop
    return text[:-1] + stop if text[-1] in "，、：；,:;" else text + stop


# ---- cleaning: what sounds bad ---------------------------------------------------------------

_OPENING = "（([〔{"
_CLOSING = "）)]〕}"
_QUOTES = "“”‘’\"「」『』《》〈〉«»‹›"
_KEEP_PUNCTUATION = set("，。？！、：；,.?!:;%％'")
_STRONG_STOP = set("。！？.!?")
_DASHES = "-‐‑‒–—―~～"
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"


def clean_text(text: str, language: str | None = "zh") -> str:
    """Text without markup and symbols that espeak-ng would read out or stumble over.

    Brackets become pauses (the words inside stay), 【】 and quotes go, ※ ○ ☐ ★ and emoji
    go, "/" between words becomes 或 / "or", dashes between numbers stay as "–" (read as 到 /
    "to" when spoken), other dashes become pauses.
    """
    code = language_code(language)
    comma = "," if code == "en" else "，"
    text = re.sub(r"<[^>]*>", " ", text)  # HTML in ODK labels: <span style=...>
    text = html.unescape(text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # markdown links
    text = re.sub(r"^\s*#+\s*", "", text, flags=re.MULTILINE)  # markdown headings
    text = re.sub(r"(?<=[^\W\d_])/(?=[^\W\d_])", " or " if code == "en" else "或", text)
    text = text.replace("&", " and " if code == "en" else "和")
    text = re.sub(r"[¥￥]\s*(\d[\d,.]*)", r"\1 yuan" if code == "en" else r"\1元", text)
    out: list[str] = []
    for index, char in enumerate(text):
        before = text[index - 1] if index else ""
        after = text[index + 1] if index + 1 < len(text) else ""
        if char in "【】〖〗":
            out.append(" ")
        elif char in _OPENING or char in _CLOSING:
            out.append(comma)
        elif char in _QUOTES:
            continue
        elif char in _DASHES:
            out.append(_dash(char, before, after, comma))
        elif char == "'" and not (before.isalpha() and after.isalpha()):
            continue
        elif char in "…⋯":
            out.append(comma)
        elif char in "·•・" or char.isspace():
            out.append(" ")
        elif char in _KEEP_PUNCTUATION:
            out.append(char)
        else:
            category = unicodedata.category(char)
            if category[0] in "LN":
                out.append(char)
            elif category[0] in "PS":  # ※ # * @ \ ○ ☐ ★ emoji, maths signs
                out.append(" ")
            # control, format (zero-width) and unassigned characters are dropped
    return _tidy("".join(out), comma)


def _dash(char: str, before: str, after: str, comma: str) -> str:
    if after.isdigit() and (before.isdigit() or before in "万千百亿"):
        return "-" if char == "-" else "–"  # a range (or a phone number's hyphen)
    if char == "-" and before.isalpha() and after.isalpha():
        return "-"  # Wi-Fi, well-being
    return comma


def _space_after(match: re.Match[str]) -> str:
    """A space after ASCII punctuation, except inside numbers: 10,000  2.5  9:30."""
    text, at = match.string, match.start()
    inside_number = text[at - 1:at].isdigit() and text[at + 1:at + 2].isdigit()
    return match.group(0) if inside_number else match.group(0) + " "


def _tidy(text: str, comma: str) -> str:
    """One space at most, no space next to CJK punctuation, one pause mark for a run of them."""
    text = re.sub(r"\s+", " ", text)

    def one_mark(match: re.Match[str]) -> str:
        found = match.group(0)
        marks = [char for char in found if not char.isspace()]
        strong = [char for char in marks if char in _STRONG_STOP]
        if strong:
            mark = strong[0]
        elif len(marks) == 1:
            mark = marks[0]
        else:
            mark = next((char for char in marks if char in "：:；;"), comma)
        return mark + " " if found[-1].isspace() else mark

    text = re.sub(r"(?:\s*(?:[，。？！、：；?!:;]|[,.](?!\d)))+\s*", one_mark, text)
    text = re.sub(r"\s*([，。？！、：；])\s*", r"\1", text)
    text = re.sub(r"[,.?!:;](?=[^\s,.?!:;])", _space_after, text)
    text = re.sub(rf"(?<=[{_HAN}]) (?=[{_HAN}])", "", text)
    text = text.strip()
    return re.sub(r"^[，。？！、：；,.?!:;\s]+", "", text)


# ---- how to say it: numbers into words, one voice per script --------------------------------

_DIGITS_ZH = "零一二三四五六七八九"
_PHONE_DIGITS_ZH = "零幺二三四五六七八九"  # 1 is 幺 when numbers are read digit by digit
_EMERGENCY = {"110", "119", "120", "122", "12345", "12349"}
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")  # 10,000 is one number
_NUMBER_AFTER = set("或和、及与报急火求电热等")  # 拨打110或120：phone numbers, not amounts


def chinese_number(value: int) -> str:
    """An integer in Chinese words: 10 十, 105 一百零五, 2000 两千, 15000 一万五千."""
    if value < 0:
        return "负" + chinese_number(-value)
    if value == 0:
        return "零"
    if value >= 10**12:
        return "".join(_DIGITS_ZH[int(digit)] for digit in str(value))
    words = ""
    pending_zero = False
    for size, unit in ((10**8, "亿"), (10**4, "万"), (1, "")):
        group = value // size % 10000
        if group == 0:
            pending_zero = bool(words)
            continue
        if words and (pending_zero or group < 1000):
            words += "零"
        words += _group_words(group) + unit
        pending_zero = False
    if words.startswith("一十"):
        words = words[1:]
    if words[:1] == "二" and words[1:2] in ("百", "千", "万", "亿"):
        words = "两" + words[1:]
    return words


def _group_words(group: int) -> str:
    words = ""
    zero = False
    for size, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = group // size % 10
        if digit == 0:
            zero = bool(words)
            continue
        if zero:
            words += "零"
            zero = False
        words += _DIGITS_ZH[digit] + unit
    return words


def _number_zh(text: str) -> str:
    """A decimal or integer in Chinese words."""
    whole, _, fraction = text.partition(".")
    words = chinese_number(int(whole)) if len(whole) <= 12 else _digits_zh(whole, _DIGITS_ZH)
    if fraction:
        words += "点" + _digits_zh(fraction, _DIGITS_ZH)
    return words


def _digits_zh(digits: str, names: str = _PHONE_DIGITS_ZH) -> str:
    return "".join(names[int(char)] if char.isdigit() else "，" for char in digits)


def _is_phone(run: str, after: str, code: str) -> bool:
    digits = re.sub(r"\D", "", run)
    if len(digits) >= 7 or (digits.startswith("0") and len(digits) >= 3 and "." not in run):
        return True
    if digits in _EMERGENCY and "-" not in run and " " not in run:
        # 拨打110或120 / call 110: digit by digit; 120元 / 120 people: an amount
        return (code == "en" and not after.isalpha()) or (
            code != "en" and (not re.match(rf"[{_HAN}]", after) or after in _NUMBER_AFTER))
    return False


def spoken_zh(text: str) -> str:
    """Mandarin text with its numbers as words, the way a person would read them out."""
    text = _THOUSANDS.sub("", text)
    text = re.sub(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)", r"\1年\2月\3日", text)

    def phone(match: re.Match[str]) -> str:
        run = match.group(0)
        after = text[match.end():match.end() + 1]
        return _digits_zh(run) if _is_phone(run, after, "zh") else run

    text = re.sub(r"(?<![\d.])\d+(?:[- ]\d+)*(?![\d.])", phone, text)
    text = re.sub(r"(?<!\d)(\d{4})(?=年)", lambda m: _digits_zh(m.group(1), _DIGITS_ZH), text)
    text = re.sub(r"(\d+(?:\.\d+)?)\s*[%％]", lambda m: "百分之" + _number_zh(m.group(1)), text)
    text = re.sub(r"(?<=[\d万千百亿])\s*[–—~～-]\s*(?=\d)", "到", text)
    text = re.sub(r"\d+(?:\.\d+)?", lambda m: _number_zh(m.group(0)), text)
    return text


def spoken_en(text: str) -> str:
    """English text with ranges, ISO dates and phone numbers as a person would read them."""

    def iso_date(match: re.Match[str]) -> str:
        try:
            day = dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError:
            return match.group(0)
        return f"{day:%B} {day.day}, {day.year}"

    text = _THOUSANDS.sub("", text)
    text = re.sub(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)", iso_date, text)

    def phone(match: re.Match[str]) -> str:
        run = match.group(0)
        after = text[match.end():match.end() + 1]
        if not _is_phone(run, after, "en"):
            return run
        return ", ".join(" ".join(group) for group in re.split(r"[- ]", run))

    text = re.sub(r"(?<![\d.])\d+(?:[- ]\d+)*(?![\d.])", phone, text)
    return re.sub(r"(?<=\d)\s*[–—~～-]\s*(?=\d)", " to ", text)


def _segments(text: str, code: str) -> list[tuple[str, str]]:
    """Split text into (language, words) runs: Latin words in Chinese, Chinese in English."""
    if code == "en":
        other = "zh"
        foreign = rf"\d*[{_HAN}](?:[{_HAN}\d，。？！、：；％%]*[{_HAN}])?[，。？！、：；]?"
    else:
        other = "en"
        foreign = r"[A-Za-z]+(?:['\-. &]*[A-Za-z]+)*"
    runs: list[tuple[str, str]] = []
    position = 0
    for match in re.finditer(foreign, text):
        if match.start() > position:
            runs.append((code, text[position:match.start()]))
        runs.append((other, match.group(0)))
        position = match.end()
    if position < len(text):
        runs.append((code, text[position:]))
    return [(language, words) for language, words in runs if words.strip()]


def _espeak_input(text: str, language: str, voices: dict[str, str]) -> tuple[str, bool]:
    """The text for espeak-ng, and whether it is SSML (needed when voices change)."""
    code = language_code(language)
    text = clean_text(text, code)
    runs = []
    for lang, words in _segments(text, code):
        lang = lang if lang in voices else code  # no second voice: the main one reads it
        runs.append((lang, spoken_zh(words) if lang == "zh" else spoken_en(words)))
    if all(lang == code for lang, _ in runs):
        return "".join(words for _, words in runs), False
    body = "".join(f'<voice name="{voices[lang]}">{html.escape(words, quote=False)}</voice>'
                   for lang, words in runs)
    return f"<speak>{body}</speak>", True


def _command(program: str, voices: dict[str, str], language: str, rate: int | None,
             ssml: bool, output: Path | None) -> list[str]:
    code = language_code(language)
    command = [program, "-v", voices[code], "-s", str(rate or RATES.get(code, 150))]
    if ssml:
        command.append("-m")
    if output is not None:
        command += ["-w", str(output)]
    return command  # the text goes on stdin: no shell, no option injection from a label


def _errors(stderr: str) -> list[str]:
    """espeak-ng exits 0 when the audio device cannot be opened; its 'error:' lines tell."""
    lines = [line.strip() for line in stderr.splitlines()
             if line.strip().lower().startswith(("error", "alsa lib pcm"))]
    return list(dict.fromkeys(lines))  # the same lines come once per sentence


# ---- files and blocking speech (kiosk say) ---------------------------------------------------


def _run_espeak(text: str, language: str | None, *, rate: int | None, path: Path | None,
                timeout: float | None) -> subprocess.CompletedProcess[bytes]:
    """Run espeak-ng once on ``text``: to the WAV file ``path``, or to the audio output."""
    language = language or "zh"
    program, voices = _require(language)
    words, ssml = _espeak_input(text, language, voices)
    if not words.strip():
        raise SpeechError("nothing to say: the text has no words")
    command = _command(program, voices, language, rate, ssml, path)
    try:
        return subprocess.run(command, input=words.encode(), capture_output=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise SpeechError(f"espeak-ng took longer than {timeout:.0f} s") from None
    except OSError as error:
        raise SpeechError(f"could not run {program}: {error}") from None


def synthesize(text: str, language: str | None, path: Path | str, *,
               rate: int | None = None) -> Path:
    """Write the speech for ``text`` to a WAV file (mono, 16 bit, 22050 Hz) and return it."""
    path = Path(path)
    result = _run_espeak(text, language, rate=rate, path=path, timeout=SYNTHESIS_TIMEOUT)
    stderr = result.stderr.decode(errors="replace")
    if result.returncode != 0 or not path.exists():
        raise SpeechError(f"espeak-ng could not write {path}: "
                          f"{stderr.strip() or f'exit status {result.returncode}'}")
    try:
        wav_duration(path)
    except (wave.Error, EOFError) as error:
        raise SpeechError(f"espeak-ng wrote {path}, but it is not a WAV file: {error}") from None
    return path


def wav_duration(path: Path | str) -> float:
    """Length of a WAV file in seconds."""
    with wave.open(str(path), "rb") as audio:
        return audio.getnframes() / audio.getframerate()


def speak(text: str, language: str | None, *, rate: int | None = None,
          timeout: float | None = None) -> None:
    """Speak through the audio output and wait until done; SpeechError when it cannot."""
    result = _run_espeak(text, language, rate=rate, path=None, timeout=timeout)
    problems = _errors(result.stderr.decode(errors="replace"))
    if result.returncode != 0 or problems:
        detail = "; ".join(problems) or f"exit status {result.returncode}"
        raise SpeechError(f"no sound: the audio output could not be opened ({detail})")


# ---- the kiosk's speaker: never blocks, never raises -----------------------------------------


class Speaker:
    """Speaks one text at a time through the audio output, in the background.

    ``say`` starts espeak-ng and returns at once; a new ``say`` or ``stop`` ends the speech
    that is playing. Failures (no espeak-ng, no audio device) are logged and kept in
    ``last_error``; nothing here raises into the UI.
    """

    def __init__(self, *, rate: int | None = None) -> None:
        self.rate = rate
        self.last_error: str | None = None
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._watcher: threading.Thread | None = None
        atexit.register(self.stop)  # speech must not outlive the app

    @property
    def speaking(self) -> bool:
        with self._lock:
            return self._process is not None and self._process.poll() is None

    def say(self, text: str, language: str | None) -> bool:
        """Stop what is playing and start speaking ``text``. False when it cannot start."""
        self.stop()
        language = language or "zh"
        try:
            program, voices = _require(language)
            words, ssml = _espeak_input(text, language, voices)
            if not words.strip():
                return False
            command = _command(program, voices, language, self.rate, ssml, None)
            process = subprocess.Popen(command, stdin=subprocess.PIPE,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except (SpeechError, OSError) as error:
            self._failed(str(error))
            return False
        except Exception as error:  # a bug here must not take the resident's screen down
            log.exception("read aloud failed to start")
            self._failed(f"read aloud failed: {error}")
            return False
        watcher = threading.Thread(target=self._watch, args=(process, words.encode()),
                                   name="read-aloud", daemon=True)
        with self._lock:
            self._process, self._watcher = process, watcher
        self.last_error = None
        watcher.start()
        return True

    def say_screen(self, view: Any, language: str | None) -> bool:
        """Speak a question screen: ``say(speech_text(view, language), language)``."""
        try:
            text = speech_text(view, language)
        except Exception as error:  # same reason as in say()
            log.exception("read aloud could not word the screen")
            self._failed(f"read aloud failed: {error}")
            return False
        return self.say(text, language)

    def stop(self) -> None:
        """End the speech that is playing, if any (does not wait)."""
        with self._lock:
            process, self._process = self._process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(OSError):  # it ended in the meantime
                process.terminate()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the current speech to end (for tests and scripts). True if it played."""
        with self._lock:
            watcher = self._watcher
        if watcher is not None:
            watcher.join(timeout)
            if watcher.is_alive():
                return False
        return self.last_error is None

    def _watch(self, process: subprocess.Popen[bytes], words: bytes) -> None:
        """Feed the text, drain stderr and report how it went (in the background)."""
        try:
            _, stderr = process.communicate(words)
        except (OSError, ValueError) as error:  # stopped while the text was being written
            stderr = str(error).encode()
        with self._lock:
            current = self._process is process
            if current:
                self._process = None
        if process.returncode is not None and process.returncode < 0:
            return  # stopped by stop() or a new say()
        problems = _errors(stderr.decode(errors="replace"))
        if current and (process.returncode != 0 or problems):
            detail = "; ".join(problems) or f"exit status {process.returncode}"
            self._failed(f"read aloud: no sound, the audio output could not be opened "
                         f"({detail})")

    def _failed(self, message: str) -> None:
        self.last_error = message
        log.warning("%s", message)

