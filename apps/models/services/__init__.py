"""Writes for base models, adapters and the GPU jobs (one module per concern, re-exported here:
``from apps.models import services; services.training_job_create(...)``)."""

from apps.models.services.generation import (
    generation_job_create,
    generation_job_run,
    generation_params,
    score_likeness,
)
from apps.models.services.jobs import (
    JobFailed,
    JobRetry,
    jobs_cancel_for_subject,
    jobs_reap_stuck,
)
from apps.models.services.registry import (
    BaseModelMissing,
    base_model_default,
    base_model_register,
    base_model_register_tiny,
    base_model_revision,
    tiny_model_dir,
)
from apps.models.services.retention import ADAPTER_EXPIRED, adapters_purge_expired
from apps.models.services.training import (
    training_job_create,
    training_job_run,
    training_work_dir,
)

__all__ = [
    "ADAPTER_EXPIRED",
    "BaseModelMissing",
    "JobFailed",
    "JobRetry",
    "adapters_purge_expired",
    "base_model_default",
    "base_model_register",
    "base_model_register_tiny",
    "base_model_revision",
    "generation_job_create",
    "generation_job_run",
    "generation_params",
    "jobs_cancel_for_subject",
    "jobs_reap_stuck",
    "score_likeness",
    "tiny_model_dir",
    "training_job_create",
    "training_job_run",
    "training_work_dir",
]
