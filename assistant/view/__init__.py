"""The debug view: boxes, labels and a confidence heatmap, on screen or to files. May import: runtime, narration, vision, sources, config, process."""
