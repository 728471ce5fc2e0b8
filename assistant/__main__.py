"""`python -m assistant` and the `assistant` command. Ctrl-C at any moment, even while the
program is still loading, ends it quietly with exit code 130, as shells expect."""

import sys

EXIT_INTERRUPTED = 130


def entry() -> int:
    try:
        from .cli import main

        return main()
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(entry())
