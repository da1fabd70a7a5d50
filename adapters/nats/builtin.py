"""The subscribers orderflow ships with (imported by `subscribers.registered()`)."""

from __future__ import annotations
