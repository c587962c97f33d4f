"""Run the whole service on one machine: migrations, model, admin login, web + worker."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from clipanalysis.serving import prepare_scoring_model


class Command(BaseCommand):
    help = (
        "Migrate, choose the scoring model (demo model offline), then run web + django-q2 worker."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument(
            "--prepare-only", action="store_true", help="Do everything but start the processes."
        )
        parser.add_argument(
            "--model",
            default=None,
            help="Model directory or hub name to serve (default CLIP_MODEL_NAME). A different "
            "one than the last start's is load-checked, registered and activated.",
        )

    def handle(
        self, *args, host: str, port: str, prepare_only: bool, model: str | None, **options
    ) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Database migrated.")
        choice = prepare_scoring_model(build_demo=self._build_demo_model, configured=model)
        if choice.refused:
            self.stderr.write(self.style.ERROR(choice.message))
        elif "DEMO" in choice.message:
            self.stdout.write(self.style.WARNING(choice.message))
        else:
            self.stdout.write(choice.message)
        self._announce_admin_login(host, port)
        if prepare_only:
            return
        self._run_processes(host, port, model)

    def _build_demo_model(self, output: Path, reason: str) -> None:
        # The reason first: the build takes minutes and the operator should know why.
        self.stdout.write(self.style.WARNING(reason))
        self.stdout.write(f"Building the offline demo model into {output} (once, a few minutes)…")
        self.stdout.flush()
        call_command("build_demo_model", output=str(output))

    def _announce_admin_login(self, host: str, port: str) -> None:
        users = get_user_model().objects
        credentials = Path(settings.VAR_DIR) / "admin-login.txt"
        credentials.parent.mkdir(parents=True, exist_ok=True)
        if not users.filter(is_superuser=True).exists():
            password = secrets.token_urlsafe(12)
            users.create_superuser("admin", "admin@localhost", password)
            credentials.write_text(f"admin\n{password}\n")
            credentials.chmod(0o600)
        login = (
            credentials.read_text().split() if credentials.exists() else ["(your superuser)", "?"]
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Admin: http://{host}:{port}/admin/  user {login[0]}  password {login[1]}"
                f"  (kept in {credentials})"
            )
        )

    def _run_processes(self, host: str, port: str, model: str | None) -> None:
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
        # The children apply CLIP_MODEL_NAME at their own start: --model is theirs too, so
        # they find it already applied instead of switching back to the setting.
        env = {**os.environ, "CLIP_MODEL_NAME": model} if model else None
        children = [
            subprocess.Popen([*manage, "qcluster"], env=env),
            subprocess.Popen(
                [*manage, "runserver", f"{host}:{port}", "--insecure", "--noreload"], env=env
            ),
        ]
        self.stdout.write(
            f"Web on http://{host}:{port}/ and a django-q2 worker. Ctrl-C stops both."
        )

        def stop(*_args) -> None:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGINT)

        signal.signal(signal.SIGTERM, stop)
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            stop()
            for child in children:
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
