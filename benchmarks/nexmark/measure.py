#!/usr/bin/env python3
"""Run a command and report what it cost (part of Strom's Nexmark benchmark scripts).

usage: measure.py [--stdout FILE] [--stderr FILE] -- COMMAND [ARG...]

Runs COMMAND (stdout and stderr to the given files, else inherited), waits for it with
os.wait4 and prints one line to stdout:

    rc=<exit status> wall_s=<seconds> cpu_s=<user+system CPU seconds> maxrss_mib=<peak RSS>

The CPU seconds and the peak resident set size are the child's own (getrusage of the
waited-for process, all its threads: for Flink, the whole MiniCluster JVM). Exits with
the command's status.
"""
import os
import subprocess
import sys
import time


def main():
    args = sys.argv[1:]
    out = err = None
    while args and args[0] != "--":
        if args[0] == "--stdout":
            out = args[1]
            args = args[2:]
        elif args[0] == "--stderr":
            err = args[1]
            args = args[2:]
        else:
            sys.exit(__doc__)
    if not args or len(args) < 2:
        sys.exit(__doc__)
    cmd = args[1:]
    fout = open(out, "wb") if out else None
    ferr = open(err, "wb") if err else None
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=fout, stderr=ferr)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    rc = proc.returncode
    cpu = ru.ru_utime + ru.ru_stime
    print(f"rc={rc} wall_s={wall:.3f} cpu_s={cpu:.3f} maxrss_mib={ru.ru_maxrss / 1024:.0f}")
    sys.exit(rc if rc >= 0 else 128 - rc)


if __name__ == "__main__":
    main()
