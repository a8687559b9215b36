"""Hydra configs of robopref, shipped as a package so `pkg://robopref.conf` finds them installed or editable."""
