"""Run a command and write its own peak RSS (in bytes) to a file: ``peak_rss.py FILE ARGV...``.

A child's ``ru_maxrss`` includes the memory of the process it was forked from (the kernel keeps
the old image's high-water mark across ``exec``), so measuring a command forked straight from a
large test process measures the test process. Run this small launcher first (``python -I -S``):
the command is forked from it, and its figure is its own. The exit code is passed on.
"""

import os
import sys


def main() -> None:
    out, argv = sys.argv[1], sys.argv[2:]
    pid = os.fork()
    if pid == 0:
        try:
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    with open(out, "w") as f:
        f.write(str(usage.ru_maxrss * 1024))
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
