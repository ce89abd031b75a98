"""Read aloud (朗读): real espeak-ng, real WAV files, real screens of the bundled forms.

espeak-ng is a required test dependency (./scripts/test installs the Debian package): when it
is missing these tests fail rather than skip.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import wave
from pathlib import Path

import pytest
from click.testing import CliRunner

from kiosk import speech
from kiosk.cli import main
from surveys.bundled import compiled_bundled_forms
from surveys.form import Form
from surveys.session import FormSession, ScreenView

HAN = re.compile(r"[\u4e00-\u9fff]")
# Plain Chinese (no digits or Latin, so the number wording cannot change the count).
SHORT_ZH = "您对社区服务满意吗？"  # 9 characters
LONG_ZH = ("您对社区服务满意吗？请告诉我们您最需要的帮助，"
           "社工会尽快跟进处理。谢谢您的参与，祝您身体健康。")  # 42 characters
SHORT_EN = "Are you satisfied with community services?"  # 6 words
LONG_EN = ("Are you satisfied with community services? Please tell us what help you need "
           "most, and a social worker will follow up soon. Thank you for taking part.")  # 27


def wav_info(path: Path) -> tuple[int, int, float]:
    """Channels, sample width and duration of a WAV file (fails if it is not one)."""
    with wave.open(str(path), "rb") as audio:
        assert audio.getnframes() > 0
        assert 8000 <= audio.getframerate() <= 48000
        return audio.getnchannels(), audio.getsampwidth(), (
            audio.getnframes() / audio.getframerate())


def test_espeak_ng_is_installed_with_a_mandarin_voice():
    assert speech.executable(), "espeak-ng is missing: ./scripts/test installs it (apt-get)"
    assert speech.available("zh") and speech.available("中文 (zh)")
    assert speech.available("en") and speech.available("English (en)")
    assert speech.voice_for("zh") in ("cmn-latn-pinyin", "cmn")


def test_chinese_is_spoken_as_mandarin_not_as_english_letter_names():
    # Debian 12's `cmn` voice reads 今 as "jin one" in English; the chosen voice must not.
    phonemes = subprocess.run(
        [speech.executable(), "-q", "-x", "-v", speech.voice_for("zh")],
        input="今天天气很好，非常满意。".encode(), capture_output=True, check=True).stdout.decode()
    assert phonemes.strip()
    assert "(en)" not in phonemes, phonemes


def test_chinese_speech_is_a_wav_of_plausible_length(tmp_path: Path):
    short = speech.synthesize(SHORT_ZH, "zh", tmp_path / "short.wav")
    long = speech.synthesize(LONG_ZH, "中文 (zh)", tmp_path / "long.wav")
    channels, width, short_seconds = wav_info(short)
    assert (channels, width) == (1, 2)
    long_seconds = wav_info(long)[2]
    # At 150 wpm espeak-ng's Mandarin takes about 0.35 s a character, pauses included
    # (natural speech is 0.2-0.25 s). Below 0.2 s it would be skipping characters; above
    # 0.5 s it would be spelling them out (the broken voice reads 今 as "jin one").
    for text, seconds in ((SHORT_ZH, short_seconds), (LONG_ZH, long_seconds)):
        characters = len(HAN.findall(text))
        assert 0.2 <= seconds / characters <= 0.5, (text, seconds)
    assert long_seconds > 3 * short_seconds  # 42 characters against 9


def test_english_speech_is_a_wav_of_plausible_length(tmp_path: Path):
    short_seconds = wav_info(speech.synthesize(SHORT_EN, "en", tmp_path / "short.wav"))[2]
    long_seconds = wav_info(speech.synthesize(LONG_EN, "English (en)", tmp_path / "l.wav"))[2]
    # 140 words a minute is 0.43 s a word; pauses at full stops and long words add some.
    for text, seconds in ((SHORT_EN, short_seconds), (LONG_EN, long_seconds)):
        assert 0.25 <= seconds / len(text.split()) <= 0.9, (text, seconds)
    assert long_seconds > 3 * short_seconds  # 27 words against 6


def test_latin_words_in_chinese_and_numbers_are_spoken(tmp_path: Path):
    # WiFi and A栋 switch to the English voice (SSML); 13812345678 is read digit by digit.
    text = "请连接WiFi，到A栋3楼，或打电话13812345678。"
    seconds = wav_info(speech.synthesize(text, "zh", tmp_path / "mixed.wav"))[2]
    assert 4 <= seconds <= 15


def test_slower_rate_gives_longer_speech(tmp_path: Path):
    normal = wav_info(speech.synthesize(LONG_ZH, "zh", tmp_path / "normal.wav"))[2]
    slow = wav_info(speech.synthesize(LONG_ZH, "zh", tmp_path / "slow.wav", rate=100))[2]
    assert slow > 1.2 * normal


def test_kiosk_say_writes_the_file(tmp_path: Path):
    target = tmp_path / "question.wav"
    result = CliRunner().invoke(main, ["say", "您的年龄是？第1项，18岁以下。", "-o", str(target)])
    assert result.exit_code == 0, result.output
    seconds = wav_info(target)[2]
    assert f"wrote {target}" in result.output and f"{seconds:.1f} s" in result.output

    english = tmp_path / "english.wav"
    result = CliRunner().invoke(main, ["say", "--lang", "en", SHORT_EN, "-o", str(english)])
    assert result.exit_code == 0, result.output
    assert wav_info(english)[2] > 1


def first_select_screen(survey: str, language: str) -> ScreenView:
    forms = {compiled["survey_id"]: compiled for compiled in compiled_bundled_forms()}
    session = FormSession(Form(forms[survey]), language)
    while not any(q.kind == "select_one" for q in session.screen.questions):
        assert session.next() == []
    return session.screen


def test_speech_text_announces_the_question_and_numbered_choices():
    view = first_select_screen("satisfaction", "zh")
    question = view.questions[0]
    text = speech.speech_text(view, "中文 (zh)")
    assert text.startswith(question.label)
    assert "必答" in text
    expected = "".join(f"第{number}项，{choice.label}。"
                       for number, choice in enumerate(question.choices, start=1))
    assert expected in text
    assert len(question.choices) >= 3

    english = first_select_screen("satisfaction", "en")
    text = speech.speech_text(english, "English (en)")
    assert text.startswith(english.questions[0].label)
    for number, choice in enumerate(english.questions[0].choices, start=1):
        assert f"Choice {number}, {choice.label}." in text
    assert not HAN.search(text)


def test_speech_text_of_every_bundled_screen_is_clean_and_speakable():
    for compiled in compiled_bundled_forms():
        for language in ("zh", "en"):
            session = FormSession(Form(compiled), language)
            for screen in session.form.screens:
                view = session.view(screen)
                if not view.questions:
                    continue  # not relevant before earlier answers
                text = speech.speech_text(view, language)
                assert text, (compiled["survey_id"], screen.index)
                assert not re.search(r"[※○●☐☑【】（）()《》“”*#<>{}$]", text), text


def test_symbols_and_markup_are_not_read_out():
    assert speech.clean_text("※ 请点【完成】提交（可多选）。", "zh") == "请点完成提交，可多选。"
    assert speech.clean_text("**重要** <b>提示</b>：是/否 ○ ★", "zh") == "重要提示：是或否"
    assert speech.clean_text("Tap (optional) **here** & go", "en") == "Tap, optional, here and go"
    # numbers as a person reads them
    assert speech.spoken_zh("18–35岁，10000元，2.5斤，50%") == (
        "十八到三十五岁，一万元，二点五斤，百分之五十")
    assert speech.spoken_zh("拨打110或120，电话0531-88123456") == (
        "拨打幺幺零或幺二零，电话零五三幺，八八幺二三四五六")
    assert speech.spoken_zh("2026-11-23") == "二零二六年十一月二十三日"
    assert speech.spoken_en("60–69, call 110") == "60 to 69, call 1 1 0"
    assert [speech.chinese_number(n) for n in (10, 105, 2000, 15000, 100010000)] == [
        "十", "一百零五", "两千", "一万五千", "一亿零一万"]


@pytest.fixture
def no_espeak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def test_without_espeak_ng_nothing_is_offered_and_kiosk_say_says_what_to_install(
        no_espeak: None, tmp_path: Path):
    assert not speech.available("zh")
    assert speech.voice_for("en") is None
    speaker = speech.Speaker()
    assert speaker.say("你好", "zh") is False  # the button would be hidden; still no crash
    assert "apt-get install espeak-ng" in (speaker.last_error or "")

    result = CliRunner().invoke(main, ["say", "你好", "-o", str(tmp_path / "x.wav")])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # an error message, not a traceback
    assert "Debian package espeak-ng" in result.output
    assert "apt-get install espeak-ng" in result.output
    assert not (tmp_path / "x.wav").exists()


@pytest.fixture
def no_audio_device(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No PulseAudio server and an ALSA configuration without any device."""
    empty_config = tmp_path / "alsa.conf"
    empty_config.write_text("")
    monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path / 'no-pulse'}")
    monkeypatch.setenv("ALSA_CONFIG_PATH", str(empty_config))


def test_speaking_without_an_audio_device_fails_quietly(no_audio_device: None,
                                                        caplog: pytest.LogCaptureFixture):
    view = first_select_screen("satisfaction", "zh")
    speaker = speech.Speaker()
    with caplog.at_level(logging.WARNING, logger="kiosk.speech"):
        assert speaker.say_screen(view, "中文 (zh)") is True  # started, returned at once
        assert speaker.wait(timeout=30) is False
    assert not speaker.speaking
    assert "audio output" in (speaker.last_error or "")
    assert any("audio output" in record.getMessage() for record in caplog.records)
    speaker.stop()  # harmless when nothing plays
    assert speaker.say("第二次", "zh") is True  # and it can be asked again
    speaker.wait(timeout=30)

    with pytest.raises(speech.SpeechError, match="audio output"):
        speech.speak("你好", "zh")
    result = CliRunner().invoke(main, ["say", "你好"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "audio output" in result.output and "-o FILE.wav" in result.output


@pytest.fixture
def audio_device_that_never_drains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An ALSA device writing to a FIFO nobody reads: speech stays 'playing' until stopped."""
    fifo = tmp_path / "pcm.fifo"
    os.mkfifo(fifo)
    config = tmp_path / "alsa.conf"
    config.write_text(f'pcm.!default {{ type file slave.pcm {{ type null }} file "{fifo}" '
                      'format "raw" }\n')
    monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path / 'no-pulse'}")
    monkeypatch.setenv("ALSA_CONFIG_PATH", str(config))


def test_a_new_text_or_stop_ends_the_speech_playing(audio_device_that_never_drains: None):
    speaker = speech.Speaker()
    assert speaker.say(LONG_ZH, "zh")
    first = speaker._process
    assert first is not None and speaker.speaking
    assert speaker.say(SHORT_ZH, "zh")  # e.g. the resident pressed 朗读 on the next screen
    assert first.wait(timeout=10) < 0  # terminated, not left talking over the new text
    assert speaker.speaking
    speaker.stop()  # the screen changed
    assert not speaker.speaking
    assert speaker.wait(timeout=10) is True
    assert speaker.last_error is None  # stopping is not a failure
