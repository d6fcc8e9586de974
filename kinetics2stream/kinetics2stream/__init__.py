"""Two-stream frame-level Kinetics baseline (gurkirt/2D-kinectics).

Modules: ``options`` (flags of train.py / test.py / eval.py, the run folder), ``data`` (sampling, stacks,
transforms, dataset, Mini-200 annotations), ``model`` (InceptionV3, VGG16, ResNets, ImageNet loading with
first-conv replication, frozen BN), ``engine`` (training loop, frame scoring, testing a checkpoint, video
metrics via evaluation.kinetics, stream fusion), ``aggregate`` (top-k video scores, ActivityNet json, fusion).
"""
