"""``kiosk say``: speak a text as the kiosk's 朗读 button does, or write it to a WAV file."""

from __future__ import annotations

from pathlib import Path

import click

from kiosk.cli.exit_codes import KioskCommand


@click.command("say", cls=KioskCommand)
@click.argument("text")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the speech to this WAV file instead of playing it.")
@click.option("--lang", "language", type=click.Choice(["zh", "en"]), default="zh",
              show_default=True, help="Mandarin (zh) or English (en).")
@click.option("--rate", type=click.IntRange(80, 450),
              help="Words per minute (default: 150 for zh, 140 for en).")
def say_command(text: str, output: Path | None, language: str, rate: int | None) -> None:
    """Speak TEXT as the kiosk's 朗读 button does (TEXT - reads standard input)."""
    from kiosk import speech  # only this command needs it

    if text == "-":
        text = click.get_text_stream("stdin").read()
    try:
        if output is None:
            speech.speak(text, language, rate=rate)
            return
        speech.synthesize(text, language, output, rate=rate)
    except speech.SpeechUnavailable as error:
        raise click.ClickException(str(error)) from None
    except speech.SpeechError as error:
        hint = "" if output else " (to write the speech to a file instead: -o FILE.wav)"
        raise click.ClickException(f"{error}{hint}") from None
    click.echo(f"wrote {output} ({speech.wav_duration(output):.1f} s)")
