"""Two-stream frame-level Kinetics baseline (gurkirt/2D-kinectics).

Modules: ``data`` (sampling, stacks, transforms, dataset), ``models`` (InceptionV3, VGG16, ResNets,
ImageNet loading with first-conv replication, frozen BN), ``engine`` (frame scoring), ``aggregate``
(top-k video scores, ActivityNet json, fusion), ``evaluate`` (video metrics via evaluation.kinetics),
``prep`` (Mini-200 annotations), ``options`` (shared flags, run folder), ``reproduce`` (the table).
"""
