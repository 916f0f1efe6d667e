"""The released codec models, one folder each (installed as ``pillow_rgc.weights``)."""
