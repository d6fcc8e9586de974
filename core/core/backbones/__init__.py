"""Backbones used by more than one package, each in its own module (``vgg``, ``i3d``, ``resnet3d``).

Weights are only ever loaded from local files (``core.io.load_weights``); nothing is downloaded.
"""
