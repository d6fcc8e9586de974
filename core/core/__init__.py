"""Shared library of the action-detection monorepo.

Modules are small and named for what they hold: ``boxes``, ``nms``, ``tubes``, ``metrics``,
``formats``, ``io``, ``video``, ``synthetic``, ``train``, ``backbones``. Import the module you need,
e.g. ``from core import boxes``; nothing heavy is imported here.
"""

__version__ = "0.1.0"
