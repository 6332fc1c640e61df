"""moto's server in its own process (its own GIL), quiet: `python -m devserver.moto_process PORT`."""

import logging
import signal
import sys

from moto.server import ThreadedMotoServer


def main() -> None:
    # Ctrl-C in the terminal reaches the whole process group: the dev server stops us by closing our stdin.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per AWS call costs a ms
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False)
    server.start()
    print("ready", flush=True)
    sys.stdin.read()  # runs until the dev server closes our stdin (or dies, which closes it too)
    server.stop()


if __name__ == "__main__":
    main()
