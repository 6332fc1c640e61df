import sys

# Workers are spawned processes that import this package's __main__ as __mp_main__: keep them light.
if __name__ == "__main__":
    import atexit
    import os

    from devserver.cli import main

    code = main()
    # Done: out without tearing the interpreter down (boto3's models, moto's client, freed one by one took a tenth
    # of a second or two at every stop). The output is flushed and exit handlers run (coverage saves its data).
    sys.stdout.flush()
    sys.stderr.flush()
    atexit._run_exitfuncs()
    os._exit(code)  # pragma: no cover (coverage saved its data just before)
