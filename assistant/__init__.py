"""Offline assistant that tells blind and low-vision people what is around them."""
