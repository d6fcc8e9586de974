"""Evaluation protocols users run on files: ``python -m evaluation.ava``, ``evaluation.ucf24``,
``evaluation.kinetics`` (see ARCHITECTURE.md for the exact CLIs and JSON outputs)."""
