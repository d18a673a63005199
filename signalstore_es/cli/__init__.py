"""The ``signalstore-es`` command line: the only code that configures logging."""
