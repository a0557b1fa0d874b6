"""The domain: every write that matters goes through a function here."""
