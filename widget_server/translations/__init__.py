"""Translators' round trip: every text a victim sees, out to PO files and back into the YAML.

Translators work in Poedit or Weblate, not in YAML: ``trees export-po`` hands
them one PO file per locale with French as the source text, ``trees
import-po`` writes what they translated back where it came from, keeping the
files' comments and layout, and ``trees translations`` says what is missing or
out of date. The French texts are the source: nothing here ever writes them.
"""
