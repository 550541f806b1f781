"""The Practice export bundle: reading it (streaming, typed, honest) and generating it."""
