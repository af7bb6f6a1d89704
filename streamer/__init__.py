"""The Faust edge of AMPere Live: app, topics and agents. Processing lives in ``ampere.pipeline``."""
