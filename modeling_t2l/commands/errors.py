"""Errors a user can fix (a wrong name, a bad file, a missing video, a full disk) as one line on stderr, exit 2.

Programming errors keep their traceback: only the exception types the library raises for bad input are caught,
and the traceback of each caught one is still logged at DEBUG level.
"""
from __future__ import annotations

import logging
import sys

logger = logging.getLogger(__name__)

# ValueError: a bad recipe, list or label file; KeyError: an unknown protocol, split or recipe field;
# OSError: missing videos (MissingVideosError), unreadable or unwritable files and folders, a full disk.
USER_ERRORS = (ValueError, KeyError, OSError)
EXIT_CODE = 2  # argparse's code for a bad command line


def one_line(error: BaseException) -> str:
    """The message of `error` on one line (a KeyError's str() would quote it)."""
    if isinstance(error, OSError) and error.filename and error.strerror:  # not "[Errno 2] ...: 'path'"
        return f"{error.filename}: {error.strerror}"
    message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
    return " ".join(str(message).split()) or type(error).__name__


def report(command: str, error: BaseException) -> int:
    """Print `t2l <command>: error: <message>` and return the exit code."""
    logger.debug("t2l %s failed", command, exc_info=error)
    print(f"t2l {command}: error: {one_line(error)}", file=sys.stderr)
    return EXIT_CODE
