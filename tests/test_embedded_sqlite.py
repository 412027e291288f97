"""The embedded database of `make run` (SQLite) under two writers at once."""

import os
import subprocess
import sys

from django.conf import settings

# Two transactions read, then write: SQLite's default (deferred) transactions make the second
# writer fail at once with "database is locked", whatever the timeout; the hub showed a 500 to
# one of two administrators deciding at the same moment.
RACE = """
import threading, time
from django.db import connection, transaction
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE race (n integer)")
errors, barrier = [], threading.Barrier(2)
def work():
    from django.db import connection
    try:
        barrier.wait()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM race")
            time.sleep(0.2)
            cursor.execute("INSERT INTO race VALUES (1)")
    except Exception as exc:
        errors.append(repr(exc))
    finally:
        connection.close()
threads = [threading.Thread(target=work) for _ in range(2)]
[thread.start() for thread in threads]
[thread.join() for thread in threads]
with connection.cursor() as cursor:
    cursor.execute("SELECT count(*) FROM race")
    print("rows", cursor.fetchone()[0], "errors", errors)
"""


def test_two_writers_at_once_wait_for_each_other(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", RACE],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "rows 2 errors []" in result.stdout, result.stdout + result.stderr
