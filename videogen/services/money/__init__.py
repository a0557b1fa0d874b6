"""Money: estimates, the budget hold, the ledger write and its audit, reports, display."""
