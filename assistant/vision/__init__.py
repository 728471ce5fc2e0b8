"""What is in a frame and what becomes of each box: the detector, the speaking filter, duplicates, positions and tracks. May import: config, process."""
