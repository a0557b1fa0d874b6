"""videogen's benchmarks: ``bench/harness/`` (what they share) and one script per benchmark,
run as files (``.venv/bin/python bench/reconcile.py``). bench/README.md says how to run each,
what it measures and how its figures relate to the issues' targets; results go to
docs/benchmarks.md."""
