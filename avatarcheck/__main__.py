"""``python -m avatarcheck`` is the ``avatarcheck`` command."""

from avatarcheck.cli import app

app(prog_name="avatarcheck")
