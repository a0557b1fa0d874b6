"""The only code that speaks HTTP to OpenRouter's video API."""
