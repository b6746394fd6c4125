"""A dashboard session kept in a file (``gtui --record``) and played back (``gtui replay``)."""
