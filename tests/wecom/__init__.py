"""Tests of the WeCom adapter, its test server and its callbacks."""


class Clock:
    """A clock the test moves by hand (epoch seconds), for the server and the adapter."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t
