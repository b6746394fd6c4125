"""The dashboard in a browser (``gtui serve``), for reviews."""
