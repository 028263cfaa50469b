"""``make sim``: Azurite and the simulator in the foreground, to try the CLI by hand.

Starts both on free loopback ports, seeds one tenant with a little drift (a few
mailboxes with SMTP AUTH on, one of them a printer you can approve), writes the app
settings that point the CLI at them to an env file (owner-only: it holds the
simulated identity's header, and the webhook URL is a secret even here, so neither
is printed), and serves until Ctrl-C or SIGTERM, showing each Teams card and mail the
simulator receives; then stops both. It plays the Function app's timer too: every
``--every`` seconds it runs the scheduled check, which sends what ``check`` queued. Azurite keeps the tables in memory, so each
start is a fresh desired state. README "Try it by hand" walks through it;
docs/simulator.md says what the simulator plays and on what evidence.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from .azurite import Azurite
from .received import Received
from .server import SimServer

TENANT = "8f6a3c1e-2b4d-4e5f-9a0b-1c2d3e4f5a6b"
DOMAIN = "contoso.onmicrosoft.com"
PRINTER = f"printer@{DOMAIN}"
UNAPPROVED = (17, 512)  # mailboxes someone switched SMTP AUTH on for, without approval
TEAMS_SETTING = "SMTPAUTH_TEAMS_WEBHOOK_CONTOSO"  # the app setting a tenant row names
SENDER = "smtp-auth-guard@contoso.com"
OUT = Path("out") / "sandbox"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sim.sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--mailboxes", type=int, default=1000, help="mailboxes in the tenant (default 1000)")
    parser.add_argument(
        "--env-file",
        type=Path,
        default=OUT / "env",
        help=f"where to write the settings (default {OUT / 'env'})",
    )
    parser.add_argument(
        "--every", type=int, default=60, help="seconds between scheduled checks (default 60; 0: never)"
    )
    return parser.parse_args(argv)


def environment(azurite: Azurite, server: SimServer) -> dict[str, str]:
    """The app settings that point the CLI at the two local stand-ins."""
    return {
        "AzureWebJobsStorage": azurite.connection_string,
        "SMTPAUTH_EXCHANGE_URL": server.exchange_url,
        "SMTPAUTH_GRAPH_URL": server.url,
        "IDENTITY_ENDPOINT": server.identity_endpoint,
        "IDENTITY_HEADER": server.identity_header,
        TEAMS_SETTING: server.add_teams_webhook(),
        "SMTPAUTH_MAIL_SENDER": SENDER,
        "TENANT": TENANT,  # not a setting: a shell variable for the walkthrough's commands
    }


def write_env(path: Path, env: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Owner-only from the first byte: the file holds the identity header and a webhook URL.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.writelines(f"export {name}={shlex.quote(value)}\n" for name, value in env.items())
    os.chmod(path, 0o600)  # an existing file keeps its old mode through O_CREAT


def seed(server: SimServer, mailboxes: int) -> None:
    tenant = server.add_tenant(TENANT, DOMAIN)
    tenant.seed(mailboxes, overrides={n: False for n in UNAPPROVED if n < mailboxes})
    tenant.add_mailbox(PRINTER, display_name="Printer, lobby", smtp_auth_disabled=False)


def tick() -> str:
    """One scheduled check, as the timer runs it, in one line."""
    # Imported here: the product is what the sandbox serves, not what it is made of.
    from shared.core.model import Status
    from shared.shell.jobs import scheduled_check
    from shared.shell.settings import Settings, SettingsError

    try:
        results = asyncio.run(scheduled_check(Settings.from_env()))
    except SettingsError as exc:
        return f"scheduled check: could not start: {exc}"
    except Exception as exc:  # the sandbox outlives a failed tick, as the timer does
        return f"scheduled check failed: {type(exc).__name__}: {exc}"
    drift = sum(r.status is Status.DRIFT for r in results)
    failed = sum(r.status is Status.ERROR for r in results)
    return (
        f"scheduled check: {len(results):,} tenant(s), {drift:,} with drift, {failed:,} could not be checked"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with Azurite() as azurite, SimServer() as server:
        seed(server, args.mailboxes)
        env = environment(azurite, server)
        write_env(args.env_file, env)
        os.environ.update(env)  # the timer below reads the same settings as the CLI
        received = Received(server, OUT / "received")
        unapproved = len([n for n in UNAPPROVED if n < args.mailboxes])
        print(
            f"Azurite and the simulator are running on 127.0.0.1: tenant {DOMAIN} ({TENANT}),\n"
            f"{args.mailboxes + 1:,} mailboxes, SMTP AUTH on for {PRINTER} and {unapproved} others.\n"
            f"In another shell, in this folder (README 'Try it by hand' has the commands):\n\n"
            f"  . {shlex.quote(str(args.env_file))}\n\n"
            "Ctrl-C stops both (the tables are in memory and go with them). Notifications the\n"
            "simulator receives are shown here and saved as they arrive:",
            flush=True,
        )
        step, due = 0, time.monotonic() + args.every
        while not stop.wait(0.5):  # wake up regularly: the handler's flag is seen promptly
            step += 1
            if args.every and time.monotonic() >= due:
                print(f"  {tick()}", flush=True)
                due = time.monotonic() + args.every
            for line in received.new(f"{step:05d}"):
                print(f"  {line}", flush=True)
    args.env_file.unlink(missing_ok=True)  # its ports and header are dead now
    print("Stopped Azurite and the simulator.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
