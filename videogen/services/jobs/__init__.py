"""A job's trip: its request, submission, lifecycle, reconciliation and outputs."""
