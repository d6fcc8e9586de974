"""What every train.py shares: seeding, torchrun/DDP set-up, resumable data order, checkpoints
(``--resume PATH|auto`` full state, ``--weights PATH`` model only), the metric logger and LR schedules.

Modules: ``seed``, ``distributed``, ``data``, ``checkpoint``, ``logger``, ``schedules``, ``args``, ``amp``.
The usual names are re-exported here::

    from core.train import (add_common_args, init_distributed, seed_everything, make_train_loader,
                            resume_batches, CheckpointManager, resume, load_weights_into,
                            make_metric_logger, WarmupMultiStepLR, wrap_ddp)

See ``tests/core/tiny_train.py`` for a complete, resumable, torchrun-able training script.
"""

from core.train.amp import amp_dtype, autocast, grad_scaler
from core.train.args import LOGGER_CHOICES, add_common_args, args_to_dict
from core.train.checkpoint import (
    CheckpointManager,
    LoadReport,
    ResumeState,
    build_checkpoint,
    load_weights_into,
    resume,
    strip_prefix,
)
from core.train.data import (
    ResumableSampler,
    ShardedEvalSampler,
    iters_per_epoch,
    make_eval_loader,
    make_train_loader,
    resume_batches,
    set_loader_epoch,
)
from core.train.distributed import (
    DistInfo,
    all_gather_object,
    all_reduce_mean,
    all_reduce_sum,
    barrier,
    broadcast_object,
    cleanup,
    get_rank,
    get_world_size,
    init_distributed,
    is_main_process,
    launch,
    place_model,
    resolve_device,
    unwrap_model,
    wrap_ddp,
)
from core.train.logger import (
    JsonLinesWriter,
    LoggerBackendWarning,
    MetricLogger,
    SmoothedValue,
    TensorboardWriter,
    VisdomWriter,
    make_metric_logger,
    read_log,
)
from core.train.schedules import (
    WarmupCosineLR,
    WarmupMultiStepLR,
    WarmupStepLR,
    build_scheduler,
    epochs_to_iters,
)
from core.train.seed import (
    get_rng_state,
    make_generator,
    seed_everything,
    seed_worker,
    set_deterministic,
    set_rng_state,
)

__all__ = [
    "amp_dtype", "autocast", "grad_scaler",
    "LOGGER_CHOICES", "add_common_args", "args_to_dict",
    "CheckpointManager", "LoadReport", "ResumeState", "build_checkpoint", "load_weights_into", "resume",
    "strip_prefix",
    "ResumableSampler", "ShardedEvalSampler", "iters_per_epoch", "make_eval_loader", "make_train_loader",
    "resume_batches", "set_loader_epoch",
    "DistInfo", "all_gather_object", "all_reduce_mean", "all_reduce_sum", "barrier", "broadcast_object",
    "cleanup", "get_rank", "get_world_size", "init_distributed", "is_main_process", "launch", "resolve_device",
    "place_model", "unwrap_model", "wrap_ddp",
    "JsonLinesWriter", "LoggerBackendWarning", "MetricLogger", "SmoothedValue", "TensorboardWriter",
    "VisdomWriter", "make_metric_logger", "read_log",
    "WarmupCosineLR", "WarmupMultiStepLR", "WarmupStepLR", "build_scheduler", "epochs_to_iters",
    "get_rng_state", "make_generator", "seed_everything", "seed_worker", "set_deterministic", "set_rng_state",
]
