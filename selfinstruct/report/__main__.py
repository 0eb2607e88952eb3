"""``python -m selfinstruct.report RUN_DIR...``: the same as ``selfinstruct-report``."""

from selfinstruct.report.cli import main

if __name__ == "__main__":
    main()
