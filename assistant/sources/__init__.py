"""Where frames come from: cameras, files, folders and streams, the capture thread, image decoding, and watching a live source for loss and cover. May import: process."""
