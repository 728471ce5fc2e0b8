"""What each command of the CLI does, from parsed arguments to an exit code. May import: every layer."""
