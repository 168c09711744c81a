"""End to end from a folder of photos: checks, training, generation, images in a folder.

    manage.py headshots PHOTO_DIR --out OUT_DIR [--family sdxl|flux] [--styles slug,slug]
                        [--count N] [--steps N] [--seed N] [--skip-checks]

Runs every step itself, in this process, through the same services the workers use: a
"Command line" workspace (reused) and a new subject per run, the photo checks on each file
(rejected files are reported and skipped), training on the tiny model of --family (built if
missing) or on BASE_MODEL_DIR, one generation job per style, then copies the images to OUT_DIR
and prints a JSON summary. Messages the services would send to workers are not sent (the work
is done here), so a running worker never picks the same jobs up.

--skip-checks (demo only) accepts every decodable image, with the face box from the analysis
when a face is found, instead of the full checks (duplicates, sharpness, one face, ...).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.accounts.models import Membership, User, Workspace
from apps.models import selectors, services
from apps.models.models import BaseModel, Family, GenerationJob, JobStatus, Style
from apps.photos.models import GeneratedImage, Photo, Subject

CLI_EMAIL = "headshots-cli@likeness.local"
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif"}


@contextmanager
def _work_here():
    """Services enqueue follow-up messages on commit; this command does that work itself."""
    sent: list[str] = []
    with mock.patch("config.tasks.send_now", lambda name, *a, **k: sent.append(name)):
        yield sent


class Command(BaseCommand):
    help = "Photos in, portraits out: checks, LoRA training and generation, end to end."
    # No system checks: this frees the --skip-checks flag for the photo checks.
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("photo_dir", type=Path)
        parser.add_argument("--out", type=Path, required=True, help="folder for the images")
        parser.add_argument("--family", choices=Family.values, default=None)
        parser.add_argument("--styles", default="", help="comma-separated style slugs (all)")
        parser.add_argument("--count", type=int, default=2, help="images per style")
        parser.add_argument("--steps", type=int, default=None, help="training steps")
        parser.add_argument("--seed", type=int, default=1000, help="first generation seed")
        parser.add_argument("--skip-checks", action="store_true")

    def handle(self, *args, photo_dir: Path, out: Path, family, styles, count, steps, seed,
               skip_checks, **options):  # fmt: skip
        started = time.monotonic()
        files = sorted(
            p for p in photo_dir.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES
        ) if photo_dir.is_dir() else []  # fmt: skip
        if not files:
            raise CommandError(f"No photos (JPEG, PNG, WebP, HEIC) found in {photo_dir}.")
        style_rows = self._styles(styles)
        phases: dict[str, float] = {}

        mark = time.monotonic()
        base = self._base_model(family)
        phases["base_model"] = time.monotonic() - mark

        with _work_here():
            user, workspace = self._cli_workspace()
            subject = self._subject(workspace, user, photo_dir)
            mark = time.monotonic()
            if skip_checks:
                rejected = self._accept_without_checks(subject, files)
            else:
                rejected = self._check(subject, user, files)
            phases["photo_checks"] = time.monotonic() - mark
            accepted = Photo.unscoped.filter(subject=subject, status=Photo.Status.ACCEPTED)
            accepted_count = accepted.count()

            mark = time.monotonic()
            try:
                job = services.training_job_create(
                    subject=subject, base_model=base, config={"steps": steps} if steps else None
                )
            except ValidationError as exc:
                raise CommandError(
                    " ".join(exc.messages) + f" Rejected: {json.dumps(rejected)}"
                ) from exc
            services.training_job_run(job_id=job.pk, worker_id=_worker_id())
            job.refresh_from_db()
            phases["training"] = time.monotonic() - mark
            if job.status != JobStatus.SUCCEEDED:
                raise CommandError(f"Training {job.status}: {job.error} ({job.error_detail})")
            adapter = job.adapter

            mark = time.monotonic()
            jobs = []
            for offset, style in enumerate(style_rows):
                gen = services.generation_job_create(
                    adapter=adapter, style=style, count=count, seed_base=seed + offset * count
                )
                services.generation_job_run(job_id=gen.pk, worker_id=_worker_id())
                jobs.append(gen)
            phases["generation"] = time.monotonic() - mark

        images = self._export(jobs, out)
        summary = {
            "subject": str(subject.public_id),
            "base_model": {"name": base.name, "family": base.family, "revision": base.revision},
            "photos": {"files": len(files), "accepted": accepted_count, "rejected": rejected},
            "training": {
                "job": str(job.public_id),
                "steps": job.progress_total,
                "final_loss": job.loss,
                "adapter_version": adapter.version,
                "adapter_sha256": adapter.sha256,
                "adapter_bytes": adapter.size_bytes,
                "rank": adapter.rank,
            },
            "generation": {
                "jobs": [
                    {"style": g.style.slug, "status": GenerationJob.unscoped.get(pk=g.pk).status}
                    for g in jobs
                ],
                "images": images,
                "delivered": sum(1 for i in images if i["moderation"] == "delivered"),
                "hold_reasons": dict(Counter(i["hold_reason"] for i in images if i["hold_reason"])),
            },
            "out": str(out),
            "seconds": {k: round(v, 2) for k, v in phases.items()}
            | {"total": round(time.monotonic() - started, 2)},
        }
        self.stdout.write(json.dumps(summary, indent=2))

    # --- steps ---------------------------------------------------------------------------

    def _styles(self, slugs: str) -> list[Style]:
        if not slugs:
            rows = list(selectors.styles_active())
        else:
            wanted = [s.strip() for s in slugs.split(",") if s.strip()]
            found = {s.slug: s for s in Style.objects.filter(slug__in=wanted, active=True)}
            missing = [s for s in wanted if s not in found]
            if missing:
                known = ", ".join(selectors.styles_active().values_list("slug", flat=True))
                raise CommandError(f"Unknown or inactive style(s) {missing}. Known: {known}")
            rows = [found[s] for s in wanted]
        if not rows:
            raise CommandError("No active styles. Run `manage.py migrate` to seed them.")
        return rows

    def _base_model(self, family: str | None) -> BaseModel:
        if settings.BASE_MODEL_DIR and family is None:
            return services.base_model_default()
        family = family or settings.BASE_MODEL_FAMILY
        call_command("build_base_model", "--tiny", "--family", family, "--if-missing",
                     stdout=self.stderr)  # fmt: skip
        return BaseModel.objects.get(name=f"tiny-{family}")

    def _cli_workspace(self) -> tuple[User, Workspace]:
        from apps.accounts.services import workspace_create

        user = User.objects.filter(email=CLI_EMAIL).first()
        if user is None:
            user = User.objects.create_user(email=CLI_EMAIL, password=None, full_name="CLI")
        membership = (
            Membership.objects.filter(user=user, role=Membership.Role.OWNER)
            .select_related("workspace")
            .first()
        )
        if membership is not None:
            return user, membership.workspace
        return user, workspace_create(owner=user, name="Command line", kind=Workspace.Kind.TEAM)

    def _subject(self, workspace: Workspace, user: User, photo_dir: Path) -> Subject:
        from apps.photos.services import subject_create

        # The operator running this command vouches for the person's consent.
        return subject_create(
            workspace=workspace,
            actor=user,
            display_name=f"CLI {photo_dir.resolve().name}"[:120],
            consent_given=True,
        )

    def _check(self, subject: Subject, user: User, files: list[Path]) -> list[dict]:
        from apps.photos.services import photo_check, photo_upload

        rejected = []
        for path in files:
            try:
                with path.open("rb") as handle:
                    photo = photo_upload(
                        subject=subject, upload=File(handle, path.name), actor=user
                    )
            except ValidationError as exc:
                rejected.append({"file": path.name, "reasons": exc.messages})
                continue
            photo_check(photo_id=photo.pk)
            photo.refresh_from_db()
            if photo.status != Photo.Status.ACCEPTED:
                rejected.append({"file": path.name, "reasons": list(photo.reasons)})
        return rejected

    def _accept_without_checks(self, subject: Subject, files: list[Path]) -> list[dict]:
        """Demo only: every decodable image becomes an accepted photo (face box when found)."""
        from django.utils import timezone

        from apps.photos.analysis import analyze_photo, robust_mean_embedding
        from apps.photos.services import photo_purge_after

        rejected, embeddings = [], []
        for path in files:
            analysis = analyze_photo(path.read_bytes())
            if analysis.accepted_jpeg is None:
                rejected.append({"file": path.name, "reasons": analysis.reasons})
                continue
            photo = Photo(
                workspace=subject.workspace,
                subject=subject,
                original_name=path.name[:120],
                status=Photo.Status.ACCEPTED,
                sha256=analysis.sha256,
                width=analysis.width,
                height=analysis.height,
                face_box=list(analysis.face_box) if analysis.face_box else None,
                embedding=analysis.embedding,
                metrics={**analysis.metrics, "checks_skipped": True},
                reasons=[],
                checked_at=timezone.now(),
            )
            photo.purge_after = photo_purge_after(photo)  # on the retention clock like any photo
            photo.image.save("photo.jpg", ContentFile(analysis.accepted_jpeg), save=False)
            with transaction.atomic():
                photo.save()
            if analysis.embedding:
                embeddings.append(analysis.embedding)
        if embeddings:
            Subject.unscoped.filter(pk=subject.pk).update(
                reference_embedding=robust_mean_embedding(embeddings)
            )
        return rejected

    def _export(self, jobs: list[GenerationJob], out: Path) -> list[dict]:
        from django.core.files.storage import default_storage

        out.mkdir(parents=True, exist_ok=True)
        images = []
        rows = GeneratedImage.unscoped.filter(generation_job__in=jobs).select_related("style")
        for row in rows.order_by("style__sort_order", "seed"):
            name = f"{row.style.slug if row.style else 'image'}-{row.seed}.jpg"
            with default_storage.open(row.image.name, "rb") as source, open(out / name, "wb") as t:
                shutil.copyfileobj(source, t)
            images.append(
                {
                    "file": name,
                    "style": row.style.slug if row.style else None,
                    "seed": row.seed,
                    "size": [row.width, row.height],
                    "moderation": row.moderation_status,
                    "hold_reason": row.hold_reason,
                    "face_found": row.face_found,
                    "likeness_distance": row.likeness_distance,
                }
            )
        return images


def _worker_id() -> str:
    return f"cli:{socket.gethostname()}:{os.getpid()}"
