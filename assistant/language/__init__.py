"""The languages the assistant speaks, read from the files under locales/. May import: nothing."""
