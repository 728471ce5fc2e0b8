"""Hostile and faulty input, one file per class of fault; each file is a table of cases, so the
next round of hostile testing adds rows, not files."""
