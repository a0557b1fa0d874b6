"""The provider's webhooks: receiving them, and pruning what was received."""
