"""What the simulator's Teams webhook and sendMail received, written to files.

The demo shows it after each step; ``make sim`` shows it as it arrives. Each card is
saved as JSON and each mail as HTML under one folder, so a person can open them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .server import SimServer


class Received:
    """The notifications received since the last look, saved under ``out``."""

    def __init__(self, server: SimServer, out: Path) -> None:
        self.server = server
        self.out = out
        self.posts = self.mails = 0
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)

    def new(self, step: str) -> list[str]:
        """One line per card or mail received since the last call."""
        posts, mails = self.server.teams_posts[self.posts :], self.server.sent_mails[self.mails :]
        self.posts, self.mails = self.posts + len(posts), self.mails + len(mails)
        lines = []
        for n, post in enumerate(posts, 1):
            path = self.out / f"{step}-teams-card-{n}.json"
            path.write_text(json.dumps(post.payload, indent=2, ensure_ascii=False), encoding="utf-8")
            title = "".join(run["text"] for run in post.card["body"][0]["items"][0]["inlines"])
            lines.append(f'Teams: card "{title}" ({post.size:,} bytes) -> {self._shown(path)}')
        for n, mail in enumerate(mails, 1):
            path = self.out / f"{step}-email-{n}.html"
            path.write_text(mail.content, encoding="utf-8")
            lines.append(f'Email to {", ".join(mail.to)}: "{mail.subject}" -> {self._shown(path)}')
        return lines

    def _shown(self, path: Path) -> str:
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)
