"""Teaching the detector new objects: labelled photos made into a training set for MediaPipe Model Maker.
May import: datasets, config, sources, process."""
