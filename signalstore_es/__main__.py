"""``python -m signalstore_es`` runs the command line."""

from signalstore_es.cli.app import main

main()
