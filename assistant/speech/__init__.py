"""Saying it: the speaker's queue, worker and watchdog, the voices, synthesis, earcons and stereo panning. May import: language, process."""
