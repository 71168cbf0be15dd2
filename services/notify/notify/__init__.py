"""The notify service: tells residents what happens to their pickup, exactly once per message."""
