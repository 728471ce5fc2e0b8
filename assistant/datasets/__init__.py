"""Labelled detection sets: reading COCO and VOC, finding images with classes, evaluating the detector."""
