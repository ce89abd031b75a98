"""Review decisions and corrections at the central database (central schema 6, issue 17).

A kiosk sends its staff's review decisions and corrections (store/sqlite/reviews.py) as two
sync streams, each row signed by the kiosk where staff made it and checked by the database's
own push function, like every other row (store/central/trust.py). Both tables only grow: a
submission's state is its newest decision, its answers as corrected are its answers with
every correction applied in the order they were made (``at``, then the id).

A correction of a personal answer (a question marked pii in the submission's form) keeps
its old and new value in ``pii_old``/``pii_new``, which the reader role cannot read; a
correction whose submission or form is not there yet is kept the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

REVIEWS_TABLE = "submission_reviews"
CORRECTIONS_TABLE = "submission_corrections"
PII_COLUMNS = ("pii_old", "pii_new")
_SIGNED = ("received_at timestamptz NOT NULL DEFAULT now(), signer text, key_version integer,"
           " signature bytea")

SCHEMA_6 = (
    f"CREATE TABLE {REVIEWS_TABLE} (origin text NOT NULL, review_id text NOT NULL,"
    " instance_id text NOT NULL, state text NOT NULL CHECK (state IN ('pending', 'approved',"
    " 'questioned', 'void')), note text NOT NULL, staff text NOT NULL, at text NOT NULL,"
    f" kiosk text, {_SIGNED}, PRIMARY KEY (origin, review_id))",
    f"CREATE INDEX {REVIEWS_TABLE}_of ON {REVIEWS_TABLE} (instance_id, at)",
    f"CREATE TABLE {CORRECTIONS_TABLE} (origin text NOT NULL, correction_id text NOT NULL,"
    " instance_id text NOT NULL, question text NOT NULL, old text, new text,"
    " why text NOT NULL, staff text NOT NULL, at text NOT NULL, kiosk text,"
    f" {_SIGNED}, pii_old text, pii_new text, PRIMARY KEY (origin, correction_id))",
    f"CREATE INDEX {CORRECTIONS_TABLE}_of ON {CORRECTIONS_TABLE} (instance_id, at)",
    # A submission's state (NULL: never reviewed) and answers as corrected (NULL: none),
    # personal ones apart as in ``answers``/``pii_answers``: what the statistics read.
    "ALTER TABLE submissions ADD COLUMN review text, ADD COLUMN corrected jsonb,"
    " ADD COLUMN pii_corrected jsonb",
)


def corrections_source(values: dict[str, str]) -> str:
    """The FROM of the corrections push: each checked row with its submission's form (the
    pii questions), found by the instance id it corrects."""
    return (f"kiosk_checked c LEFT JOIN public.submissions s ON s.instance_id ="
            f" {values['instance_id']} LEFT JOIN public.forms f ON f.survey_id = s.survey_id"
            " AND f.version = s.version")


def plain_value(value: str, question: str) -> str:
    """SQL: the value where the reader reads it, NULL when it may be personal."""
    return (f"CASE WHEN f.pii_questions IS NOT NULL AND NOT {question} = ANY(f.pii_questions)"
            f" THEN {value} END")


def personal_value(value: str, question: str) -> str:
    """SQL: the value beside the personal answers, NULL when it is not personal."""
    return (f"CASE WHEN f.pii_questions IS NOT NULL AND NOT {question} = ANY(f.pii_questions)"
            f" THEN NULL ELSE {value} END")


def review_states(connection: psycopg.Connection[Any],
                  instance_ids: list[str]) -> dict[str, str]:
    """The state of each of these submissions that has one (its newest decision)."""
    return dict(connection.execute(
        f"SELECT DISTINCT ON (instance_id) instance_id, state FROM {REVIEWS_TABLE}"
        " WHERE instance_id = ANY(%s) ORDER BY instance_id, at DESC, review_id DESC",
        (instance_ids,)).fetchall())


def review_history(connection: psycopg.Connection[Any], instance_id: str, *,
                   personal: bool = False) -> dict[str, Any]:
    """A submission's decisions and corrections at the central database, oldest first (the
    values of personal answers only with ``personal``, for a pii reader)."""
    reviews = [dict(zip(("origin", "state", "note", "staff", "at", "kiosk"), row, strict=True))
               for row in connection.execute(
                   f"SELECT origin, state, note, staff, at, kiosk FROM {REVIEWS_TABLE}"
                   " WHERE instance_id = %s ORDER BY at, review_id", (instance_id,))]
    old, new = ("coalesce(old, pii_old)", "coalesce(new, pii_new)") if personal \
        else ("old", "new")
    corrections = [dict(zip(("origin", "question", "old", "new", "why", "staff", "at"), row,
                            strict=True))
                   for row in connection.execute(
                       f"SELECT origin, question, {old}, {new}, why, staff, at"
                       f" FROM {CORRECTIONS_TABLE} WHERE instance_id = %s"
                       " ORDER BY at, correction_id", (instance_id,))]
    return {"instance_id": instance_id,
            "state": reviews[-1]["state"] if reviews else "pending",
            "reviews": reviews, "corrections": corrections}
