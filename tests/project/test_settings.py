"""The demo site's settings (``project/settings.py``), loaded as ``manage.py`` loads them: in a
fresh process, from the environment and the env file ``make run`` writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.processes import REPO_ROOT


def run_python(code: str, env: dict[str, str], timeout: float = 60) -> str:
    """Run ``code`` in a new interpreter at the repository root; return its stdout."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def site_env(tmp_path, **values: str) -> dict[str, str]:
    """The environment of a shell with none of the site's variables, ``make run``'s folder
    under ``tmp_path`` and, unlike this test process, no PYTEST_VERSION."""
    names = ("DATABASE_URL", "REDIS_URL", "PYTEST_VERSION", "OPENROUTER_API_KEY")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in names and not k.startswith(("VIDEOGEN_", "DJANGO_"))
    }
    env.update(DJANGO_SETTINGS_MODULE="project.settings", DJANGO_RUN_DIR=str(tmp_path / "run"))
    env.update(values)
    return env


SHOW_SETTINGS = """
    import json
    import django
    from django.conf import settings
    django.setup()
    shown = ("BASE_URL", "CALLBACK_URL", "WEBHOOK_SECRETS")
    print(json.dumps({
        "db": settings.DATABASES["default"]["NAME"],
        "videogen": {name: settings.VIDEOGEN[name] for name in shown},
    }, default=str))
"""


def test_commands_see_the_configuration_make_run_wrote_and_the_environment_wins(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "env").write_text(
        "# written by make run\n"
        f"DATABASE_URL=sqlite:///{tmp_path}/demo.sqlite3\n"
        "VIDEOGEN_SIMULATOR_URL=http://127.0.0.1:18399/api/v1\n"
        "VIDEOGEN_WEBHOOK_SECRETS=whsec-from-make-run\n"
        "VIDEOGEN_CALLBACK_URL=http://127.0.0.1:18398/videogen/webhooks/openrouter/\n"
    )
    seen = json.loads(run_python(SHOW_SETTINGS, site_env(tmp_path)))
    assert seen == {
        "db": f"{tmp_path}/demo.sqlite3",
        "videogen": {
            "BASE_URL": "http://127.0.0.1:18399/api/v1",
            "CALLBACK_URL": "http://127.0.0.1:18398/videogen/webhooks/openrouter/",
            "WEBHOOK_SECRETS": ["whsec-from-make-run"],
        },
    }
    mine = site_env(tmp_path, VIDEOGEN_SIMULATOR_URL="http://127.0.0.1:18397/api/v1")
    assert json.loads(run_python(SHOW_SETTINGS, mine))["videogen"]["BASE_URL"] == (
        "http://127.0.0.1:18397/api/v1"
    )


def test_the_test_suite_never_reads_make_runs_env_file(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "env").write_text("VIDEOGEN_CALLBACK_URL=http://127.0.0.1:18398/hook/\n")
    under_pytest = site_env(tmp_path, PYTEST_VERSION="9")
    assert json.loads(run_python(SHOW_SETTINGS, under_pytest))["videogen"]["CALLBACK_URL"] is None


# Two processes' transactions that each read, then write (like get_or_create, the output
# fetcher's claim, a budget check): the second starts reading before the first writes.
READ_THEN_WRITE = """
    import threading
    import django
    from django.db import connection, transaction
    django.setup()
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS t (n integer)")
    first_read, second_read, first_wrote = (threading.Event() for _ in range(3))
    errors = []

    def first():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM t")
                first_read.set()
                second_read.wait(2)  # with IMMEDIATE the second waits for us to commit
                cursor.execute("INSERT INTO t VALUES (1)")
                first_wrote.set()
        except Exception as err:
            errors.append(repr(err))
        finally:
            first_wrote.set()
            connection.close()

    def second():
        first_read.wait(5)
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM t")
                second_read.set()
                first_wrote.wait(5)
                cursor.execute("INSERT INTO t VALUES (2)")
        except Exception as err:
            errors.append(repr(err))
        finally:
            connection.close()

    threads = [threading.Thread(target=f) for f in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM t")
        print(errors or cursor.fetchone()[0])
"""


def test_sqlite_transactions_that_read_then_write_wait_for_each_other_instead_of_locking(
    tmp_path,
):
    env = site_env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path}/demo.sqlite3")
    assert run_python(READ_THEN_WRITE, env).strip() == "2"


def test_sqlite_waits_for_locks_and_reads_while_another_process_writes(tmp_path):
    show = """
        import django
        from django.db import connection
        django.setup()
        options = connection.settings_dict["OPTIONS"]
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            print(options["transaction_mode"], options["timeout"], cursor.fetchone()[0])
    """
    env = site_env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path}/demo.sqlite3")
    mode, timeout, journal = run_python(show, env).split()
    assert (mode, journal) == ("IMMEDIATE", "wal") and int(timeout) >= 10


@pytest.mark.parametrize("url", ["postgres://postgres@127.0.0.1:5432/videogen"])
def test_other_databases_get_no_sqlite_options(tmp_path, url):
    show = """
        from django.conf import settings
        print(settings.DATABASES["default"].get("OPTIONS", {}))
    """
    assert run_python(show, site_env(tmp_path, DATABASE_URL=url)).strip() == "{}"
