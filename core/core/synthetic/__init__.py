"""The procedural video world used by the tests and the demo.

- :mod:`core.synthetic.world`: articulated figures, motion programs, props, camera (arrays over time).
- :mod:`core.synthetic.actions`: each dataset's classes as motion programs, in the real class order.
- :mod:`core.synthetic.render`: OpenCV rendering with an id mask and amodal ground-truth boxes.
- :mod:`core.synthetic.scenes`: single-class clips and AVA-style multi-actor videos.
- :mod:`core.synthetic.datasets`: writers of each dataset's real on-disk layout
  (``write_dataset(fmt, out, size, seed, workers)``), used by ``tools/synthesize.py``.
"""
