"""Searching people and requests by email or name: the filter, and the indexes that serve it.

Both live here because they must agree. PostgreSQL runs `icontains` as
`UPPER(column::text) LIKE UPPER('%word%')`, and a trigram index serves that filter only when it
is built on that same expression; otherwise every row of the organization is read. Tests check
that the plan of each search can use its indexes.
"""

import idna
from django.db import NotSupportedError
from django.db.migrations.operations.base import Operation
from django.db.models import CharField, Q
from django.db.models.lookups import IContains

# Words of a search beyond these are ignored: each is one more indexed condition.
MAX_SEARCH_WORDS = 5


def search_matches(query: str) -> Q:
    """Rows matching every word of `query` (at most MAX_SEARCH_WORDS): "Nora Smith", as a
    row shows the name, finds her."""
    found = Q()
    for word in query.split()[:MAX_SEARCH_WORDS]:
        found &= email_or_name_contains(word)
    return found


def email_or_name_contains(word: str) -> Q:
    """Rows whose normalized email, first name or last name contains `word`, in any case. A
    word with a Unicode domain or domain label (`anna@bücher.example`, `bücher`, as the pages
    show them) is also looked for in the A-label form the addresses are stored in."""
    found = (
        Q(email_normalized__icontains=word.lower())
        | Q(first_name__icontains=word)
        | Q(last_name__icontains=word)
    )
    stored = _stored_form(word)
    return found | Q(email_normalized__icontains=stored) if stored else found


def _stored_form(word: str) -> str | None:
    if word.isascii():
        return None
    local, at, domain = word.rpartition("@")
    labels = []
    for label in domain.split("."):
        try:
            labels.append(label if label.isascii() else idna.encode(label, uts46=True).decode())
        except (idna.IDNAError, UnicodeError):
            return None
    stored = f"{local}{at}{'.'.join(labels)}".lower()
    return stored if stored.isascii() else None


class UnicodeIContains(IContains):
    """`icontains` in any case on SQLite too (`make run`), whose LIKE ignores the case of ASCII
    letters only: `élodie` finds Élodie. Both sides are upper-cased by the UPPER that
    `sqlite_unicode_upper` gives each SQLite connection. Other databases: Django's own."""

    def as_sqlite(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"UPPER({lhs}) LIKE UPPER({rhs}) ESCAPE '\\'", [*lhs_params, *rhs_params]


def _upper(value):
    return value.upper() if isinstance(value, str) else value


def sqlite_unicode_upper(sender, connection, **kwargs) -> None:
    """On `connection_created`: SQLite's UPPER changes ASCII letters only; Python's, all."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("UPPER", 1, _upper, deterministic=True)


def search_in_any_case() -> None:
    """Called once at start (`orgs.apps`)."""
    from django.db.backends.signals import connection_created

    CharField.register_lookup(UnicodeIContains)
    connection_created.connect(sqlite_unicode_upper, dispatch_uid="sqlite_unicode_upper")


def _invalid(schema_editor, index: str) -> bool:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", [index]
        )
        row = cursor.fetchone()
    return bool(row and row[0])


class TrigramIndexes(Operation):
    """Migration operation: a GIN trigram index on `UPPER(column::text)` for each
    `{index name: column}` of `table`, and the pg_trgm extension they need; PostgreSQL only.
    With `within`, each index leads with that column (btree_gin), so that a search that always
    filters on it (the queue's organization) reads only its rows' trigrams.

    The indexes are built CONCURRENTLY, so a large table keeps taking writes while they are
    made; the migration must therefore say `atomic = False`. pg_trgm and btree_gin are trusted
    extensions: a role that may create objects in the database may install them. Going back
    drops the indexes and leaves the extensions, which something else may use."""

    reversible = True
    reduces_to_sql = False

    def __init__(self, table: str, indexes: dict[str, str], within: str = ""):
        self.table = table
        self.indexes = indexes
        self.within = within

    def describe(self) -> str:
        return f"Create the trigram search indexes of {self.table}"

    def state_forwards(self, app_label, state) -> None:
        pass  # raw indexes: the models don't know them, so makemigrations never drops them

    def _applies(self, schema_editor) -> bool:
        if schema_editor.connection.vendor != "postgresql":
            return False
        if schema_editor.connection.in_atomic_block:
            raise NotSupportedError("TrigramIndexes needs a migration with atomic = False.")
        return True

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if not self._applies(schema_editor):
            return
        quote = schema_editor.quote_name
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        leading = ""
        if self.within:
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
            leading = f"{quote(self.within)}, "
        for name, column in self.indexes.items():
            if _invalid(schema_editor, name):
                # A build that failed or was cancelled leaves an invalid index under its name:
                # IF NOT EXISTS would keep it, and no search would ever use it.
                schema_editor.execute(f"DROP INDEX CONCURRENTLY {quote(name)}")
            schema_editor.execute(
                f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {quote(name)} ON {quote(self.table)} "
                f"USING gin ({leading}UPPER({quote(column)}::text) gin_trgm_ops)"
            )

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if not self._applies(schema_editor):
            return
        for name in self.indexes:
            schema_editor.execute(
                f"DROP INDEX CONCURRENTLY IF EXISTS {schema_editor.quote_name(name)}"
            )


class TrigramIndexesRemoved(TrigramIndexes):
    """Migration operation: drops indexes that TrigramIndexes made (with the same arguments),
    CONCURRENTLY; going back makes them again."""

    def describe(self) -> str:
        return f"Drop the trigram search indexes of {self.table}"

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        super().database_backwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        super().database_forwards(app_label, schema_editor, from_state, to_state)
