"""``zhishiyun-server admin …`` (filled in below)."""

from __future__ import annotations

import argparse


def add_commands(parser: argparse.ArgumentParser) -> None:
    """Register the admin subcommands."""
    parser.add_subparsers(dest="admin_command", metavar="COMMAND")


def run(args: argparse.Namespace) -> int:
    """Run one admin command."""
    return 2
