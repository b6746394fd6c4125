"""Load profiles shipped with gtui, usable by name (``gtui load mixed``)."""
