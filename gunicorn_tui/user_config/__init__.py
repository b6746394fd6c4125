"""gtui's own settings: the TOML config file in the XDG config directory."""
