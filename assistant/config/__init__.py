"""A caregiver's settings as values: the profile and its files, the model's calibration, the rules and style made of them, which model files exist. May import: language, process, speech."""
