"""What every Python conformance script shares: a named check that prints its step, and
running the script's main so that the first failure exits non-zero, naming its step."""

import sys


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    print(f"ok: {what}", flush=True)


def run(main):
    try:
        main()
    except Exception as error:  # report any failure with its step, then fail the test
        print(f"FAILED: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        sys.exit(1)
