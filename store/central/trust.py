"""Who may do what in the central PostgreSQL (central schema 4), enforced by PostgreSQL itself.

Roles (``P`` is the role prefix ``kiosk central init`` chose, the database's name by default):

- ``P_admin``: everything; the only role that may enrol, revoke or rotate a kiosk.
- ``P_pii_reader``: reads every table, the residents' personal answers and the volunteers'
  phones and ID numbers included.
- ``P_reader``: the statistics and exports without them: every table but the signing keys,
  submissions without ``pii_answers``, the roster without ``phone`` and ``id_card``.
- ``P_kiosk``: the group of enrolled kiosks. Each kiosk logs in as its own role
  (``P_k_…``), a member of it, which may read nothing but the schema version and the forms'
  checksums and may only call the ``kiosk_push_*`` functions. Those run as the schema's
  owner (SECURITY DEFINER) and store a row only when its signature, made with the key of
  the kiosk that created it (store/central/signing.py), checks out against the key the
  database holds for that kiosk: a kiosk cannot write another kiosk's rows, nor skip the
  check, and a row relayed through another kiosk or a bundle is checked all the same.

What each function refuses is returned row by row (index, why), never stored; the rest of the
batch is stored.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from store.central.connection import CentralError, KioskNotEnrolled
from store.central.push import CENTRAL_TABLES
from store.central.registers import PII_COLUMNS as REGISTER_PII_COLUMNS
from store.central.registers import entity_column, register_function, store_changes
from store.central.reviews import (
    CORRECTIONS_TABLE,
    REVIEWS_TABLE,
    corrections_source,
    personal_value,
    plain_value,
)
from store.central.reviews import PII_COLUMNS as CORRECTION_PII_COLUMNS
from store.central.signing import KEY_BYTES, ROSTER_FIELDS, ROSTER_STREAM
from store.central.tallies import (
    ADDED_COLUMNS,
    COUNT_DONE,
    COUNT_STEPS,
    COUNT_WORK_TABLES,
    HASHING,
    REMOVE_ZEROS,
    UNCOUNT_STEPS,
)
from store.sqlite.sync_cursors import SYNC_COLUMNS

if TYPE_CHECKING:
    import psycopg

# The tables schema 4 signed (those made later are made with the signature's columns).
SIGNED_TABLES = ("forms", "submissions", "request_updates", "volunteer_checkins",
                 "volunteer_checkouts", "volunteer_corrections", "audit", "volunteers")
# Personal data: what the reader role may not read.
PII_COLUMNS = {"submissions": ("pii_answers", "pii_corrected"), "volunteers": ("phone", "id_card"),
               "entity_changes": REGISTER_PII_COLUMNS,
               CORRECTIONS_TABLE: CORRECTION_PII_COLUMNS}
# Read only inside the functions: no role may read the signing keys.
ADMIN_ONLY_TABLES = ("kiosk_keys",)


@dataclass(frozen=True)
class Roles:
    """The group roles of one central database."""

    prefix: str

    @property
    def admin(self) -> str:
        return f"{self.prefix}_admin"

    @property
    def reader(self) -> str:
        return f"{self.prefix}_reader"

    @property
    def pii_reader(self) -> str:
        return f"{self.prefix}_pii_reader"

    @property
    def kiosks(self) -> str:
        return f"{self.prefix}_kiosk"

    def login_of(self, kiosk_id: str) -> str:
        """The login role of a kiosk: readable, unique (a digest of the id), ≤ 63 bytes."""
        import hashlib

        slug = re.sub(r"[^a-z0-9]+", "_", kiosk_id.lower()).strip("_")[:20] or "kiosk"
        digest = hashlib.sha256(kiosk_id.encode()).hexdigest()[:8]
        return f"{self.prefix}_k_{slug}_{digest}"


def default_prefix(database: str) -> str:
    """A role prefix from a database name: lower-case letters, digits and _ (roles are
    shared by every database of a server, so each central database has its own)."""
    slug = re.sub(r"[^a-z0-9]+", "_", database.lower()).strip("_")[:30]
    return slug if slug and not slug[0].isdigit() else f"kiosk_{slug}"[:30]


# ---- schema 4 ----------------------------------------------------------------------------

def schema_4(connection: psycopg.Connection[Any]) -> None:
    """Enrolled kiosks and their keys, a signature on every row, personal answers apart.
    Rows from before are kept as they are, marked unsigned (``signature`` NULL); kiosks
    already known must be enrolled before they sync again."""
    connection.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public")
    for statement in (
        "ALTER TABLE kiosks ALTER COLUMN database_id DROP NOT NULL,"
        " ALTER COLUMN first_sync DROP NOT NULL, ALTER COLUMN first_sync DROP DEFAULT,"
        " ADD COLUMN login_role text UNIQUE, ADD COLUMN enrolled_at timestamptz,"
        " ADD COLUMN revoked_at timestamptz, ADD COLUMN key_version integer",
        "CREATE TABLE kiosk_keys (kiosk_id text NOT NULL REFERENCES kiosks,"
        " version integer NOT NULL, secret bytea NOT NULL,"
        " created_at timestamptz NOT NULL DEFAULT now(), retired_at timestamptz,"
        " PRIMARY KEY (kiosk_id, version))",
        *(f"ALTER TABLE {table} ADD COLUMN signer text, ADD COLUMN key_version integer,"
          " ADD COLUMN signature bytea" for table in SIGNED_TABLES),
        "ALTER TABLE submissions ADD COLUMN pii_answers jsonb",
        # Nothing reads submissions by origin; keeping the index took a tenth of an insert.
        "DROP INDEX IF EXISTS submissions_origin",
        "ALTER TABLE forms ADD COLUMN pii_questions text[] NOT NULL DEFAULT '{}'",
        f"UPDATE forms SET pii_questions = {_PII_QUESTIONS.format(compiled='compiled')}",
        # Personal answers of the rows already there move beside the others.
        "UPDATE submissions s SET pii_answers = (SELECT jsonb_object_agg(e.key, e.value)"
        " FROM jsonb_each(s.answers) e WHERE e.key = ANY(f.pii_questions)),"
        " answers = s.answers - f.pii_questions FROM forms f WHERE f.survey_id = s.survey_id"
        " AND f.version = s.version AND f.pii_questions <> '{}'"
        " AND s.answers ?| f.pii_questions",
        # The roster: ``origin`` is the kiosk that registered the volunteer (it alone may
        # change the entry); so it was for the entries of schema 3 that nobody changed.
    ):
        connection.execute(statement)  # type: ignore[arg-type]


# A submission's answers split for the reader (``f.pii_questions`` the form's): without the
# personal answers, also inside each instance of a repeat (kiosk_without); and the personal
# ones, with every repeat that held one, whole. A repeat is a list of objects (``-> 0`` of a
# choice list is text, of anything else NULL): only repeats pay for the function.
SPLIT_PLAIN = ("(({answers}) - f.pii_questions) || coalesce((SELECT jsonb_object_agg(e.key,"
               " public.kiosk_without(e.value, f.pii_questions)) FROM jsonb_each({answers}) e"
               " WHERE jsonb_typeof(e.value -> 0) = 'object' AND NOT e.key = ANY(f.pii_questions)),"
               " '{{}}')")
SPLIT_PERSONAL = ("(SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each({answers}) e"
                  " WHERE e.key = ANY(f.pii_questions) OR (jsonb_typeof(e.value -> 0) = 'object'"
                  " AND public.kiosk_without(e.value, f.pii_questions) <> e.value))")
WITHOUT_FUNCTION = """
CREATE OR REPLACE FUNCTION kiosk_without(value jsonb, names text[]) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
  IF jsonb_typeof(value) = 'object' THEN
    RETURN coalesce((SELECT jsonb_object_agg(e.key, public.kiosk_without(e.value, names))
                     FROM jsonb_each(value) e WHERE NOT e.key = ANY(names)), '{}'::jsonb);
  ELSIF jsonb_typeof(value) = 'array' THEN
    RETURN coalesce((SELECT jsonb_agg(public.kiosk_without(x.item, names) ORDER BY x.n)
                     FROM jsonb_array_elements(value) WITH ORDINALITY AS x(item, n)),
                    '[]'::jsonb);
  END IF;
  RETURN value;
END $$"""


# The names of a compiled form's questions marked pii (``Item.to_json`` writes "pii": true).
_PII_QUESTIONS = ("ARRAY(SELECT DISTINCT q #>> '{{}}' FROM jsonb_path_query({compiled},"
                  " 'lax $.**?(@.pii == true).name') q ORDER BY 1)")


def install(connection: psycopg.Connection[Any], prefix: str) -> Roles:
    """(Re)create the roles, the functions and the grants: run by every ``init``, so a
    newer kiosk release brings its functions along."""
    roles = Roles(prefix)
    _create_roles(connection, roles)
    for statement in _functions(connection, roles):
        connection.execute(statement)  # type: ignore[arg-type]
    _grant(connection, roles)
    return roles


def _create_roles(connection: psycopg.Connection[Any], roles: Roles) -> None:
    from psycopg import sql

    existing = {row[0] for row in connection.execute(
        "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)",
        ([roles.admin, roles.reader, roles.pii_reader, roles.kiosks],))}
    for name in (roles.reader, roles.pii_reader, roles.admin, roles.kiosks):
        if name not in existing:
            connection.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(name)))
    for member, group in ((roles.pii_reader, roles.reader), (roles.admin, roles.pii_reader)):
        connection.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group),
                                                            sql.Identifier(member)))


def _grant(connection: psycopg.Connection[Any], roles: Roles) -> None:
    from psycopg import sql

    def run(template: str, *names: str) -> None:
        connection.execute(sql.SQL(template).format(*(sql.Identifier(name) for name in names)))

    database = connection.execute("SELECT current_database()").fetchone()[0]  # type: ignore
    tables = [row[0] for row in connection.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    # Nobody but the owner and these roles may connect, create or run anything.
    run("REVOKE ALL ON DATABASE {} FROM PUBLIC", database)
    run("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    connection.execute("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC")
    connection.execute("REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC")
    connection.execute("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM PUBLIC")
    for group in (roles.reader, roles.kiosks):
        run("GRANT CONNECT ON DATABASE {} TO {}", database, group)
        run("GRANT USAGE ON SCHEMA public TO {}", group)
    run("GRANT TEMP ON DATABASE {} TO {}", database, roles.reader)
    # The reader: every table but the keys, without the personal columns.
    for table in tables:
        if table in ADMIN_ONLY_TABLES:
            continue
        hidden = PII_COLUMNS.get(table, ())
        if not hidden:
            run("GRANT SELECT ON {} TO {}", table, roles.reader)
            run("GRANT SELECT ON {} TO {}", table, roles.pii_reader)
            continue
        columns = [row[0] for row in connection.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
            " AND NOT attisdropped ORDER BY attnum", (table,)) if row[0] not in hidden]
        connection.execute(sql.SQL("GRANT SELECT ({}) ON {} TO {}").format(
            sql.SQL(", ").join(sql.Identifier(column) for column in columns),
            sql.Identifier(table), sql.Identifier(roles.reader)))
        run("GRANT SELECT ON {} TO {}", table, roles.pii_reader)
    for table in tables:  # the keys are read only by the functions, never by a person
        if table not in ADMIN_ONLY_TABLES:
            run("GRANT ALL ON {} TO {}", table, roles.admin)
    connection.execute(sql.SQL("GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {}").format(
        sql.Identifier(roles.admin)))
    # The kiosks: the schema version, the forms' checksums, and the push functions.
    run("GRANT SELECT ON kiosk_meta TO {}", roles.kiosks)
    run("GRANT SELECT (survey_id, version, source_sha256) ON forms TO {}", roles.kiosks)
    for function in KIOSK_FUNCTIONS:
        run(f"GRANT EXECUTE ON FUNCTION {function} TO {{}}", roles.kiosks)
        run(f"GRANT EXECUTE ON FUNCTION {function} TO {{}}", roles.admin)
    for function in ADMIN_FUNCTIONS:
        run(f"GRANT EXECUTE ON FUNCTION {function} TO {{}}", roles.admin)


_PUSH_ARGS = "signers text[], versions integer[], payloads text[], signatures bytea[]"
KIOSK_FUNCTIONS = (
    "kiosk_hello(text)", "kiosk_status(text)", "kiosk_synced()",
    *(f"kiosk_push_{stream}(text[], integer[], text[], bytea[]"
      + (", text[])" if stream == "forms" else ")") for stream in CENTRAL_TABLES),
    "kiosk_push_roster(text[], integer[], text[], bytea[])",
    "kiosk_register(text, bigint, integer)",
)
ADMIN_FUNCTIONS = ("kiosk_enrol(text, text, text, text, text, text)", "kiosk_rotate(text, text)",
                   "kiosk_revoke(text)", "kiosk_count_added()")

# Every function runs with a fixed search path: nothing a caller creates (a temporary
# table or function) can stand in for what the function means.
_SAFE = "SET search_path = pg_catalog, public, pg_temp"


def _functions(connection: psycopg.Connection[Any], roles: Roles) -> list[str]:
    statements = [_caller(roles), _admin_only(), _hello(), _synced(), _status(),
                  _count_added(), _roster(), _enrol(roles), _rotate(), _revoke(),
                  register_function(_SAFE), WITHOUT_FUNCTION, _count_removed(), _corrected(),
                  _recount_reviewed()]
    for stream, (table, key) in CENTRAL_TABLES.items():
        types = dict(connection.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
            " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            (table,)).fetchall())
        statements.append(_push(stream, table, key, types))
    return statements


def _caller(roles: Roles) -> str:
    """The kiosk calling (its id), NULL for the admin role; anyone else is refused."""
    return f"""
CREATE OR REPLACE FUNCTION kiosk_caller() RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER {_SAFE} AS $$
DECLARE known record;
BEGIN
  SELECT kiosk_id, revoked_at INTO known FROM public.kiosks WHERE login_role = session_user;
  IF known.kiosk_id IS NOT NULL THEN
    IF known.revoked_at IS NOT NULL THEN
      RAISE EXCEPTION 'kiosk % was revoked on %: it may no longer send anything',
        known.kiosk_id, to_char(known.revoked_at AT TIME ZONE 'Asia/Shanghai',
                                'YYYY-MM-DD HH24:MI')
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN known.kiosk_id;
  END IF;
  IF pg_has_role(session_user, {_literal(roles.admin)}, 'MEMBER') THEN
    RETURN NULL;
  END IF;
  RAISE EXCEPTION 'the role % is not an enrolled kiosk of this central database',
    session_user USING ERRCODE = 'insufficient_privilege';
END $$"""


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _admin_only() -> str:
    """Refuses, saying what, unless the caller holds the admin role."""
    return f"""
CREATE OR REPLACE FUNCTION kiosk_admin_only(what text) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER {_SAFE} AS $$
BEGIN
  IF kiosk_caller() IS NOT NULL THEN
    RAISE EXCEPTION 'only the admin role %', what USING ERRCODE = 'insufficient_privilege';
  END IF;
END $$"""


def _hello() -> str:
    """A kiosk says which database it is: the first sync binds it, another database under
    the same enrolment is refused (its rows would hide the first one's)."""
    return f"""
CREATE OR REPLACE FUNCTION kiosk_hello(database text, OUT kiosk_id text, OUT station text,
  OUT street text, OUT community text, OUT key_version integer)
LANGUAGE plpgsql SECURITY DEFINER {_SAFE} AS $$
DECLARE me text := kiosk_caller(); bound text;
BEGIN
  IF me IS NULL THEN
    RAISE EXCEPTION 'the admin role does not sync: kiosks sync with their own enrolment'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  SELECT k.database_id INTO bound FROM public.kiosks k WHERE k.kiosk_id = me FOR UPDATE;
  IF bound IS NOT NULL AND bound <> database THEN
    RAISE EXCEPTION 'kiosk % is already used at the central database by another kiosk'
      ' database; give this kiosk its own id and enrolment', me
      USING ERRCODE = 'unique_violation';
  END IF;
  UPDATE public.kiosks k SET database_id = database,
    first_sync = coalesce(k.first_sync, now()) WHERE k.kiosk_id = me;
  SELECT k.kiosk_id, k.station, k.street, k.community, k.key_version
    INTO kiosk_id, station, street, community, key_version
    FROM public.kiosks k WHERE k.kiosk_id = me;
END $$"""


def _synced() -> str:
    return f"""
CREATE OR REPLACE FUNCTION kiosk_synced() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER {_SAFE} AS $$
BEGIN
  UPDATE public.kiosks SET last_sync = now() WHERE kiosk_id = kiosk_caller();
END $$"""


def _status() -> str:
    return f"""
CREATE OR REPLACE FUNCTION kiosk_status(kiosk text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER {_SAFE} AS $$
DECLARE known record;
BEGIN
  PERFORM kiosk_caller();
  SELECT enrolled_at, revoked_at INTO known FROM public.kiosks WHERE kiosk_id = kiosk;
  IF known.revoked_at IS NOT NULL THEN
    RETURN 'revoked ' || to_char(known.revoked_at AT TIME ZONE 'Asia/Shanghai',
                                 'YYYY-MM-DD HH24:MI');
  ELSIF known.enrolled_at IS NOT NULL THEN
    RETURN 'enrolled';
  END IF;
  RETURN 'unknown';
END $$"""


def _checked(stream: str, width: int, stamp: int | None) -> str:
    """SQL: the rows of a call checked (``kiosk_checked``: n, signer, version, signature,
    p the payload as jsonb, why NULL when the row may be stored). OFFSET 0 keeps each
    subquery whole: flattened, the signature and the parse were computed once per use
    (five times a row, four fifths of the time)."""
    name = _literal(stream)
    stamp_check = "" if stamp is None else (
        f" WHEN coalesce(p->>{stamp}, '') NOT IN ('', signer) THEN format("
        f"'it is stamped with kiosk %s but signed by kiosk %s: a kiosk sends only its own"
        f" records (another kiosk''s come in that kiosk''s bundle)', p->>{stamp}, signer)")
    return f"""
  CREATE TEMP TABLE kiosk_checked ON COMMIT DROP AS
  SELECT n, signer, version, signature, p, CASE WHEN why IS NOT NULL THEN why
      WHEN jsonb_typeof(p) <> 'array' OR jsonb_array_length(p) <> {width}
        THEN 'not a row of {stream}: {width} values expected'{stamp_check} END AS why
  FROM (SELECT v.*, CASE WHEN v.why IS NULL THEN v.payload::jsonb END AS p FROM (
    SELECT r.n::integer AS n, r.signer, r.version, r.payload, r.signature, CASE
      WHEN r.signer IS NULL OR r.version IS NULL OR r.payload IS NULL OR r.signature IS NULL
        THEN 'the row is not signed'
      WHEN k.kiosk_id IS NULL THEN format('kiosk %s is not enrolled at this central database'
        || ': nothing of it is taken', r.signer)
      WHEN k.revoked_at IS NOT NULL THEN format('kiosk %s was revoked on %s: its records are'
        || ' no longer taken', r.signer,
        to_char(k.revoked_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI'))
      WHEN key.secret IS NULL THEN format('kiosk %s has no key %s', r.signer, r.version)
      WHEN public.hmac(convert_to({name} || E'\\n' || r.payload, 'UTF8'), key.secret,
                       'sha256') <> r.signature
        THEN format('its signature does not match: the record was changed after kiosk %s'
          || ' signed it, or that kiosk never signed it', r.signer)
    END AS why
    FROM unnest(signers, versions, payloads, signatures) WITH ORDINALITY
      AS r(signer, version, payload, signature, n)
    LEFT JOIN public.kiosks k ON k.kiosk_id = r.signer AND k.enrolled_at IS NOT NULL
    LEFT JOIN public.kiosk_keys key ON key.kiosk_id = r.signer AND key.version = r.version
    OFFSET 0) v OFFSET 0) w;"""


def _refusals() -> str:
    return """
  SELECT coalesce(array_agg(n ORDER BY n), '{}'), coalesce(array_agg(why ORDER BY n), '{}')
    INTO refused_at, refused_why FROM kiosk_checked WHERE why IS NOT NULL;"""


def _value(column: str, index: int, types: dict[str, str]) -> str:
    """SQL: a column's value from the payload ``c.p`` (a JSON column is JSON there)."""
    kind = types[column]
    if kind == "jsonb":
        return f"(c.p->{index})"
    if kind == "text":
        return f"(c.p->>{index})"
    return f"(c.p->>{index})::{kind}"


def _push(stream: str, table: str, key: tuple[str, ...], types: dict[str, str]) -> str:
    """``kiosk_push_<stream>``: the checked rows stored, each from its own signed payload."""
    columns = SYNC_COLUMNS[stream]
    stamp = columns.index("kiosk") if "kiosk" in columns else None
    values = {column: _value(column, index, types) for index, column in enumerate(columns)}
    extra_args = ", layouts text[]" if stream == "forms" else ""
    names = ["origin", *columns, "signer", "key_version", "signature"]
    selected = ["c.signer", *values.values(), "c.signer", "c.version", "c.signature"]
    source = "kiosk_checked c"
    if stream == "submissions":
        # Personal answers (questions marked pii) go to a column the reader cannot read.
        answers = 1 + columns.index("answers")
        # Inside a repeat too: its members keep their other answers where the reader reads
        # them, and the whole repeat, names and all, goes beside the personal answers.
        selected[answers] = ("CASE WHEN f.pii_questions IS NULL OR f.pii_questions = '{}'"
                             f" THEN a.answers ELSE {SPLIT_PLAIN.format(answers='a.answers')}"
                             " END")
        names.append("pii_answers")
        selected.append("CASE WHEN f.pii_questions <> '{}' THEN"
                        f" {SPLIT_PERSONAL.format(answers='a.answers')} END")
        # A register change keeps only its block with the submission; the label and the
        # properties go to entity_changes (store/central/registers.py).
        selected[1 + columns.index("entity")] = entity_column(values["entity"])
        source = (f"kiosk_checked c CROSS JOIN LATERAL (SELECT {values['answers']}"
                  " AS answers) a LEFT JOIN public.forms f ON f.survey_id ="
                  f" {values['survey_id']} AND f.version = {values['version']}")
    if stream == "forms":
        names.append("pii_questions")
        selected.append(_PII_QUESTIONS.format(compiled=values["compiled"]))
    if table == CORRECTIONS_TABLE:
        # A personal answer's old and new value go where the reader cannot read them.
        question = values["question"]
        for column in ("old", "new"):
            selected[1 + columns.index(column)] = plain_value(values[column], question)
            names.append(f"pii_{column}")
            selected.append(personal_value(values[column], question))
        source = corrections_source(values)
    insert = (f"INSERT INTO public.{table} ({', '.join(names)})"
              f" SELECT {', '.join(selected)} FROM {source} WHERE c.why IS NULL ORDER BY c.n"
              f" ON CONFLICT ({', '.join(key)}) DO NOTHING")
    if stream == "submissions":
        # Each added submission's number comes back with it: looking the 5,000 of a
        # batch up again by instance id took a tenth of a sync.
        body = (f"CREATE TEMP TABLE added_submissions ({ADDED_COLUMNS_TYPED}, number bigint)"
                " ON COMMIT DROP;\n"
                f"  WITH inserted AS ({insert} RETURNING {_COUNTED}, number)"
                f" INSERT INTO added_submissions ({ADDED_COLUMNS}, number)"
                " SELECT * FROM inserted;\n"
                "  GET DIAGNOSTICS added = ROW_COUNT;\n"
                # Their bitmaps follow (store/central/bitmaps.py).
                "  INSERT INTO public.stats_bitmap_queue (number)"
                " SELECT number FROM added_submissions;\n"
                f"  {store_changes(values['entity'], values['instance_id'])};\n"
                "  IF added > 0 THEN PERFORM kiosk_count_added(); END IF;\n"
                "  DROP TABLE added_submissions;")
    elif stream == "forms":
        # The questions of each version this call added, as the sender laid them out for
        # the statistics (store/central/tallies.py add_layouts).
        body = (f"WITH inserted AS ({insert} RETURNING survey_id, version),"
                " layout AS (INSERT INTO public.stats_questions (survey_id, version, question,"
                " kind, position) SELECT i.survey_id, i.version, q->>0, q->>1,"
                " (q->>2)::integer FROM inserted i JOIN kiosk_checked c ON c.why IS NULL"
                " AND (c.p->>0) = i.survey_id AND (c.p->>1) = i.version"
                " CROSS JOIN LATERAL jsonb_array_elements(coalesce(layouts[c.n], '[]')::jsonb) q"
                " ON CONFLICT DO NOTHING)"
                " SELECT count(*) INTO added FROM inserted;")
    elif table in (CORRECTIONS_TABLE, REVIEWS_TABLE):
        # The submissions they are about: their state, answers and figures follow.
        body = (f"{insert};\n  GET DIAGNOSTICS added = ROW_COUNT;\n"
                "  IF added > 0 THEN PERFORM kiosk_recount_reviewed(ARRAY(SELECT DISTINCT"
                f" {values['instance_id']} FROM kiosk_checked c WHERE c.why IS NULL)); END IF;")
    else:
        body = f"{insert};\n  GET DIAGNOSTICS added = ROW_COUNT;"
    return f"""
CREATE OR REPLACE FUNCTION kiosk_push_{stream}({_PUSH_ARGS}{extra_args},
  OUT added bigint, OUT refused_at integer[], OUT refused_why text[])
LANGUAGE plpgsql SECURITY DEFINER {_SAFE} AS $$
BEGIN
  PERFORM kiosk_caller();
{_checked(stream, len(columns), stamp)}
  {body}
{_refusals()}
  DROP TABLE kiosk_checked;
END $$"""


# What the statistics count of a submission added: every answer (the tallies are counts,
# which the reader may see), personal ones included.
_COUNTED = ADDED_COLUMNS.replace(
    "answers", "CASE WHEN pii_answers IS NULL THEN answers ELSE answers || pii_answers END")
ADDED_COLUMNS_TYPED = ", ".join(
    f"{name.strip()} {'jsonb' if name.strip() == 'answers' else 'text'}"
    for name in ADDED_COLUMNS.split(","))


def _count_added() -> str:
    """The statistics upkeep of store/central/tallies.py, for the submissions in
    ``added_submissions``; its work tables made here (a caller's own could not stand in)
    and dropped at the end."""
    return _counting("kiosk_count_added", COUNT_STEPS)


def _count_removed() -> str:
    """``kiosk_count_added`` the other way: the submissions in ``added_submissions`` taken
    away from the figures (voided, or their answers before a correction)."""
    return _counting("kiosk_count_removed", (*UNCOUNT_STEPS, *REMOVE_ZEROS))


def _counting(name: str, steps: tuple[str, ...]) -> str:
    settings = " ".join(f"SET {key} = {_literal(value)}" for key, value in HASHING)
    body = "\n".join(f"  {statement};" for statement in (*COUNT_WORK_TABLES, *steps,
                                                          COUNT_DONE))
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER {_SAFE} {settings} AS $$
BEGIN
{body}
END $$"""


def _corrected() -> str:
    """``kiosk_corrected(answers, id)``: a submission's answers (personal ones included)
    with its corrections applied in the order they were made (a JSON null: no answer)."""
    return f"""
CREATE OR REPLACE FUNCTION kiosk_corrected(answers jsonb, id text) RETURNS jsonb
LANGUAGE plpgsql STABLE {_SAFE} AS $$
DECLARE fix record; value jsonb;
BEGIN
  FOR fix IN SELECT question, coalesce(new, pii_new) AS new
             FROM public.submission_corrections WHERE instance_id = id
             ORDER BY at, correction_id LOOP
    value := coalesce(fix.new::jsonb, 'null'::jsonb);
    IF value = 'null'::jsonb THEN
      answers := answers - fix.question;
    ELSE
      answers := jsonb_set(answers, ARRAY[fix.question], value, true);
    END IF;
  END LOOP;
  RETURN answers;
END $$"""


def _recount_reviewed() -> str:
    """``kiosk_recount_reviewed(ids)``: after review decisions or corrections arrived, each
    of these submissions gets its state (its newest decision) and its answers as corrected
    (split as a sync splits them, personal ones apart), and the figures follow: a void one
    leaves them, one no longer void comes back, a corrected one is counted by its new
    answers instead of its old ones."""
    now = "coalesce(r.now, r.original)"
    plain = SPLIT_PLAIN.format(answers="r.now")
    personal = SPLIT_PERSONAL.format(answers="r.now")
    columns = "instance_id, survey_id, version, stats_day, kiosk, site, street, community," \
              " enumerator"
    return f"""
CREATE OR REPLACE FUNCTION kiosk_recount_reviewed(ids text[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER {_SAFE} AS $$
BEGIN
  CREATE TEMP TABLE reviewed ON COMMIT DROP AS
  SELECT {columns}, o.original, coalesce(s.review, 'pending') AS before,
    coalesce((SELECT d.state FROM public.submission_reviews d
              WHERE d.instance_id = s.instance_id ORDER BY d.at DESC, d.review_id DESC
              LIMIT 1), 'pending') AS after,
    CASE WHEN s.corrected IS NULL THEN o.original
         ELSE s.corrected || coalesce(s.pii_corrected, '{{}}') END AS was,
    CASE WHEN EXISTS (SELECT 1 FROM public.submission_corrections c
                      WHERE c.instance_id = s.instance_id)
         THEN public.kiosk_corrected(o.original, s.instance_id) END AS now
  FROM public.submissions s
  CROSS JOIN LATERAL (SELECT s.answers || coalesce(s.pii_answers, '{{}}') AS original) o
  WHERE s.instance_id = ANY(ids);
  CREATE TEMP TABLE added_submissions ({ADDED_COLUMNS_TYPED}) ON COMMIT DROP;
  INSERT INTO added_submissions ({ADDED_COLUMNS}) SELECT {columns}, r.was FROM reviewed r
    WHERE r.before <> 'void' AND (r.after = 'void' OR r.was <> {now});
  IF FOUND THEN PERFORM public.kiosk_count_removed(); END IF;
  DELETE FROM added_submissions;
  INSERT INTO added_submissions ({ADDED_COLUMNS}) SELECT {columns}, {now} FROM reviewed r
    WHERE r.after <> 'void' AND (r.before = 'void' OR r.was <> {now});
  IF FOUND THEN PERFORM public.kiosk_count_added(); END IF;
  DROP TABLE added_submissions;
  UPDATE public.submissions s SET review = nullif(r.after, 'pending'),
    corrected = CASE WHEN r.now IS NULL THEN NULL
      WHEN f.pii_questions IS NULL OR f.pii_questions = '{{}}' THEN r.now ELSE {plain} END,
    pii_corrected = CASE WHEN r.now IS NULL THEN NULL
      WHEN f.pii_questions IS NULL OR f.pii_questions = '{{}}' THEN '{{}}'::jsonb
      ELSE coalesce({personal}, '{{}}'::jsonb) END
  FROM reviewed r LEFT JOIN public.forms f ON f.survey_id = r.survey_id
    AND f.version = r.version
  WHERE s.instance_id = r.instance_id;
  INSERT INTO public.stats_bitmap_queue (number)
    SELECT s.number FROM public.submissions s WHERE s.instance_id = ANY(ids);
  DROP TABLE reviewed;
END $$"""


def _roster() -> str:
    """A kiosk's roster: new numbers are added as registered by the kiosk that signed them;
    an entry changes only by that kiosk's signature (or the admin's own hand, in SQL)."""
    width = len(ROSTER_FIELDS)
    fields = ", ".join(ROSTER_FIELDS[1:])
    given = ", ".join(f"(c.p->>{index})" + ("::integer" if name == "card_serial" else "")
                      + f" AS {name}" for index, name in enumerate(ROSTER_FIELDS))
    return f"""
CREATE OR REPLACE FUNCTION kiosk_push_roster({_PUSH_ARGS},
  OUT new integer, OUT updated integer, OUT refused_at integer[], OUT refused_why text[])
LANGUAGE plpgsql SECURITY DEFINER {_SAFE} AS $$
DECLARE c record; there record; entry record;
BEGIN
  PERFORM kiosk_caller();
  new := 0; updated := 0;
{_checked(ROSTER_STREAM, width, None)}
  FOR c IN SELECT * FROM kiosk_checked WHERE why IS NULL ORDER BY n LOOP
    SELECT {given} INTO entry;
    SELECT * INTO there FROM public.volunteers v WHERE v.number = entry.number FOR UPDATE;
    IF NOT FOUND THEN
      INSERT INTO public.volunteers (number, {fields}, origin, signer, key_version, signature)
        VALUES (entry.number, {", ".join(f"entry.{name}" for name in ROSTER_FIELDS[1:])},
                c.signer, c.signer, c.version, c.signature);
      new := new + 1;
    ELSIF ({", ".join(f"there.{name}" for name in ROSTER_FIELDS[1:])})
          IS NOT DISTINCT FROM ({", ".join(f"entry.{name}" for name in ROSTER_FIELDS[1:])})
    THEN
      NULL;  -- unchanged: every kiosk sends its whole roster
    ELSIF there.origin <> c.signer THEN
      UPDATE kiosk_checked k SET why = format('volunteer %s was registered by kiosk %s: only'
        || ' that kiosk or the admin may change it (%s here is %s there)', entry.number,
        there.origin, entry.name, there.name) WHERE k.n = c.n;
    ELSE
      UPDATE public.volunteers v SET ({fields}, signer, key_version, signature, updated_at)
        = ({", ".join(f"entry.{name}" for name in ROSTER_FIELDS[1:])}, c.signer, c.version,
           c.signature, now()) WHERE v.number = entry.number;
      updated := updated + 1;
    END IF;
  END LOOP;
{_refusals()}
  DROP TABLE kiosk_checked;
END $$"""


def _enrol(roles: Roles) -> str:
    """Register a kiosk, its login role (the password's SCRAM verifier: the password itself
    never reaches the server) and its first key, made here; returns the key once."""
    return f"""
CREATE OR REPLACE FUNCTION kiosk_enrol(kiosk text, place_station text, place_street text,
  place_community text, kiosk_login text, verifier text, OUT login text,
  OUT key_version integer, OUT secret bytea)
LANGUAGE plpgsql SECURITY DEFINER {_SAFE} AS $$
DECLARE known record;
BEGIN
  PERFORM kiosk_admin_only('enrols kiosks');
  SELECT * INTO known FROM public.kiosks k WHERE k.kiosk_id = kiosk FOR UPDATE;
  IF known.revoked_at IS NOT NULL THEN
    RAISE EXCEPTION 'kiosk % was revoked: give the new kiosk a new id', kiosk
      USING ERRCODE = 'unique_violation';
  ELSIF known.enrolled_at IS NOT NULL THEN
    RAISE EXCEPTION 'kiosk % is already enrolled (kiosk central rotate gives it new keys)',
      kiosk USING ERRCODE = 'unique_violation';
  END IF;
  login := kiosk_login;
  -- Only a kiosk role of this database's own: never a staff or superuser role.
  IF login !~ {_literal("^" + roles.prefix + "_k_[a-z0-9_]+$")} THEN
    RAISE EXCEPTION 'not a kiosk login name: %', login USING ERRCODE = 'invalid_name';
  END IF;
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = login) THEN
    RAISE EXCEPTION 'the role % exists already', login USING ERRCODE = 'duplicate_object';
  END IF;
  EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L IN ROLE %I', login, verifier,
                 {_literal(roles.kiosks)});
  INSERT INTO public.kiosks AS k (kiosk_id, station, street, community, site, login_role,
      enrolled_at, key_version)
    VALUES (kiosk, place_station, place_street, place_community,
            CASE WHEN place_community <> '' THEN place_street || '/' || place_community
                 WHEN place_street <> '' THEN place_street END, login, now(), 1)
    ON CONFLICT (kiosk_id) DO UPDATE SET station = excluded.station,
      street = excluded.street, community = excluded.community, site = excluded.site,
      login_role = excluded.login_role, enrolled_at = excluded.enrolled_at,
      key_version = 1;
  key_version := 1;
  secret := public.gen_random_bytes({KEY_BYTES});
  INSERT INTO public.kiosk_keys (kiosk_id, version, secret) VALUES (kiosk, 1, secret);
END $$"""


def _rotate() -> str:
    return f"""
CREATE OR REPLACE FUNCTION kiosk_rotate(kiosk text, verifier text, OUT login text,
  OUT key_version integer, OUT secret bytea)
LANGUAGE plpgsql SECURITY DEFINER {_SAFE} AS $$
DECLARE known record;
BEGIN
  PERFORM kiosk_admin_only('rotates keys');
  SELECT * INTO known FROM public.kiosks k WHERE k.kiosk_id = kiosk FOR UPDATE;
  IF known.enrolled_at IS NULL THEN
    RAISE EXCEPTION 'kiosk % is not enrolled', kiosk USING ERRCODE = 'no_data_found';
  ELSIF known.revoked_at IS NOT NULL THEN
    RAISE EXCEPTION 'kiosk % was revoked: give the new kiosk a new id', kiosk
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  login := known.login_role;
  IF verifier IS NOT NULL THEN
    EXECUTE format('ALTER ROLE %I PASSWORD %L', login, verifier);
  END IF;
  -- The old keys stay: records signed with them before the rotation still verify.
  UPDATE public.kiosk_keys k SET retired_at = now() WHERE k.kiosk_id = kiosk
    AND k.retired_at IS NULL;
  key_version := known.key_version + 1;
  secret := public.gen_random_bytes({KEY_BYTES});
  INSERT INTO public.kiosk_keys (kiosk_id, version, secret) VALUES (kiosk, key_version, secret);
  UPDATE public.kiosks k SET key_version = kiosk_rotate.key_version WHERE k.kiosk_id = kiosk;
END $$"""


def _revoke() -> str:
    return f"""
CREATE OR REPLACE FUNCTION kiosk_revoke(kiosk text, OUT login text, OUT revoked_at timestamptz,
  OUT sessions_ended integer)
LANGUAGE plpgsql SECURITY DEFINER {_SAFE} AS $$
DECLARE known record;
BEGIN
  PERFORM kiosk_admin_only('revokes kiosks');
  SELECT * INTO known FROM public.kiosks k WHERE k.kiosk_id = kiosk FOR UPDATE;
  IF known.kiosk_id IS NULL THEN
    RAISE EXCEPTION 'kiosk % is not known here', kiosk USING ERRCODE = 'no_data_found';
  END IF;
  login := known.login_role;
  revoked_at := coalesce(known.revoked_at, now());
  UPDATE public.kiosks k SET revoked_at = kiosk_revoke.revoked_at WHERE k.kiosk_id = kiosk;
  UPDATE public.kiosk_keys k SET retired_at = coalesce(k.retired_at, now())
    WHERE k.kiosk_id = kiosk;
  sessions_ended := 0;
  IF login IS NOT NULL THEN
    EXECUTE format('ALTER ROLE %I NOLOGIN', login);
    BEGIN  -- an owner that is no superuser may lack the right to end them: -1 says so
      SELECT count(pg_terminate_backend(pid)) INTO sessions_ended FROM pg_stat_activity
        WHERE usename = login;
    EXCEPTION WHEN insufficient_privilege THEN
      sessions_ended := -1;
    END;
  END IF;
END $$"""


# ---- the admin's commands ------------------------------------------------------------------

@dataclass(frozen=True)
class Credentials:
    """What ``enrol`` and ``rotate`` give a kiosk: its login and its signing key. The
    password is made here and only its verifier goes to the server."""

    kiosk_id: str
    login: str
    password: str
    key_version: int
    key: bytes
    station: str = ""
    street: str = ""
    community: str = ""

    def __repr__(self) -> str:  # never the password or the key, in a traceback or a log
        return (f"{type(self).__name__}({self.kiosk_id!r}, login {self.login!r}, "
                f"key {self.key_version})")


def _verifier(connection: psycopg.Connection[Any], login: str, password: str) -> str:
    return connection.pgconn.encrypt_password(
        password.encode(), login.encode(), b"scram-sha-256").decode()


def _password() -> str:
    return secrets.token_urlsafe(24)


def enrol(connection: psycopg.Connection[Any], kiosk_id: str, *, station: str = "",
          street: str = "", community: str = "") -> Credentials:
    """Enrol a kiosk (the caller must hold the admin role)."""
    password = _password()
    login = roles_of(connection).login_of(kiosk_id)
    with connection.transaction():
        row = connection.execute(
            "SELECT login, key_version, secret FROM kiosk_enrol(%s, %s, %s, %s, %s, %s)",
            (kiosk_id, station, street, community, login,
             _verifier(connection, login, password))).fetchone()
    assert row is not None and row[0] == login
    return Credentials(kiosk_id, login, password, int(row[1]), bytes(row[2]), station,
                       street, community)


def rotate(connection: psycopg.Connection[Any], kiosk_id: str) -> Credentials:
    """New key (and password) for an enrolled kiosk; the old keys still verify what they
    signed."""
    password = _password()
    found = connection.execute(
        "SELECT login_role, station, street, community FROM kiosks WHERE kiosk_id = %s",
        (kiosk_id,)).fetchone()
    if found is None or found[0] is None:
        raise KioskNotEnrolled(f"kiosk {kiosk_id} is not enrolled at this central database")
    with connection.transaction():
        row = connection.execute(
            "SELECT login, key_version, secret FROM kiosk_rotate(%s, %s)",
            (kiosk_id, _verifier(connection, found[0], password))).fetchone()
    assert row is not None
    return Credentials(kiosk_id, row[0], password, int(row[1]), bytes(row[2]), found[1],
                       found[2], found[3])


@dataclass(frozen=True)
class Revoked:
    kiosk_id: str
    revoked_at: Any
    sessions_ended: int


def revoke(connection: psycopg.Connection[Any], kiosk_id: str) -> Revoked:
    with connection.transaction():
        row = connection.execute("SELECT login, revoked_at, sessions_ended FROM"
                                 " kiosk_revoke(%s)", (kiosk_id,)).fetchone()
    assert row is not None
    return Revoked(kiosk_id, row[1], int(row[2]))


@dataclass(frozen=True)
class KioskEntry:
    kiosk_id: str
    station: str
    site: str | None
    state: str  # enrolled, revoked, not enrolled
    enrolled_at: Any
    revoked_at: Any
    key_version: int | None
    last_sync: Any
    signed_rows: int
    unsigned_rows: int


def kiosks(connection: psycopg.Connection[Any]) -> list[KioskEntry]:
    """Every kiosk the central database knows, with how many rows it signed and how many
    arrived before signatures (unsigned, from schema 3)."""
    counts: dict[str, list[int]] = {}
    for table in SIGNED_TABLES:
        for origin, signed, unsigned in connection.execute(
                f"SELECT origin, count(signature), count(*) - count(signature) FROM {table}"  # type: ignore[arg-type]
                " GROUP BY 1"):
            entry = counts.setdefault(origin, [0, 0])
            entry[0] += signed
            entry[1] += unsigned
    found = []
    for row in connection.execute(
            "SELECT kiosk_id, station, site, enrolled_at, revoked_at, key_version, last_sync"
            " FROM kiosks ORDER BY kiosk_id"):
        state = ("revoked" if row[4] is not None else "enrolled" if row[3] is not None
                 else "not enrolled")
        signed, unsigned = counts.get(row[0], [0, 0])
        found.append(KioskEntry(row[0], row[1], row[2], state, row[3], row[4], row[5],
                                row[6], signed, unsigned))
    return found


def _prefix(connection: psycopg.Connection[Any]) -> str:
    row = connection.execute("SELECT value FROM kiosk_meta WHERE key = 'role_prefix'"
                              ).fetchone()
    if row is None:
        raise CentralError("this central database has no roles yet: run kiosk central init")
    return str(row[0])


def roles_of(connection: psycopg.Connection[Any]) -> Roles:
    return Roles(_prefix(connection))
