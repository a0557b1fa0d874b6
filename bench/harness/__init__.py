"""What every benchmark script shares, one module per job (see bench/README.md):

- ``cli``: the command line every script spells the same way, progress lines, SIGTERM,
  ``publish()`` (print the verdicts, write the section);
- ``database``: the PostgreSQL database a run creates and drops, Django setup, statement counts;
- ``processes``: the processes a run starts and always stops (simulator, site under gunicorn
  or runserver, qcluster), on ports from ``BENCH_PORTS`` when set;
- ``host``: the machine a run measured on (printed first, written into every section);
- ``measure``: timing, CPU per process from /proc, and the ratio to a physical limit;
- ``http_load``: a raw HTTP/1.1 load generator (asyncio, pre-built requests);
- ``writer``: ``Section`` and ``Table``, rendered into docs/benchmarks.md by one writer that
  replaces a script's own section in place and leaves the others alone.

The scripts run as files (``.venv/bin/python bench/<name>.py``): each puts the repository
root on ``sys.path`` before importing ``bench.harness``. Django is imported only once a script
has set its environment up (``database.setup_django``).
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
