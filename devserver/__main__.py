# Workers are spawned processes that import this package's __main__ as __mp_main__: keep them light.
if __name__ == "__main__":
    from devserver.cli import main
    from devserver.worker import exit_without_teardown

    exit_without_teardown(main())
