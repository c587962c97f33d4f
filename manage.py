#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys

from config.local_secret import use_local_secret_key


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # A local checkout runs on a key generated once into var/ (never in production).
    use_local_secret_key()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
