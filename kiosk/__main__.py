"""The ``kiosk`` program (also ``python -m kiosk``)."""

from kiosk import startup


def main() -> None:
    startup.hold()  # until the command knows what it loads (kiosk/startup.py says why)
    from kiosk.cli import main as command

    command(prog_name="kiosk")


if __name__ == "__main__":
    main()
