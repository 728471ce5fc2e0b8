"""Errors that carry one plain sentence for the person at the keyboard."""


class AssistantError(Exception):
    """A problem with the user's input or set-up; the CLI prints it and exits 2."""


class ModelError(AssistantError):
    """A model is missing, corrupt, or cannot be downloaded."""


class ProfileError(AssistantError):
    """A profile cannot be read or does not validate."""


class SourceError(AssistantError):
    """A camera, video, image or stream cannot be opened or read."""
