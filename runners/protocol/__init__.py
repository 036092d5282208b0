"""The run-directory protocol: the one definition of every file Pitwall and its runners share.

Stdlib only (torch is imported lazily, by the checkpoint save/load functions alone), Python 3.8
syntax, so any runner environment can import it. See ``docs/protocol.md``.
"""
from .artifacts import Artifacts, output_dir, read_artifacts, write_artifacts
from .atomic import append_line, atomic_write_bytes, atomic_write_json, atomic_write_with, \
    read_json_object
from .checkpoint_formats import FORMAT_NAMES, FORMATS, CheckpointFormat, get_format
from .checkpoint_layout import CheckpointLayout, CheckpointSpec, checkpoint_layout
from .checkpoint_listing import (LATEST_NEWEST, CheckpointInfo, latest_link_target,
                                 list_checkpoints, newest_checkpoint)
from .checkpoint_names import checkpoint_file_name, natural_key, step_from_name
from .checkpoints import (CKPT_FORMAT, CheckpointLoadError, CheckpointSaveError, FileSignature,
                          IndexEntry, file_signature, load_torch_checkpoint, read_index,
                          save_checkpoint, save_torch_checkpoint)
from .errors import ProtocolError
from .launchers import (NodeRecord, QueueEntry, SlurmJob, add_slurm_job, new_queue_entry,
                        queue_lock, read_node_record, read_queue_entry, read_slurm_jobs,
                        write_node_record, write_queue_entry)
from .metrics import MetricRecord, MetricWriter, parse_metric_line
from .preview import (PREVIEW_FORMAT, PngError, PreviewFrame, decode_png, encode_png,
                      list_previews, parse_preview, read_preview, write_preview)
from .procs import (ProcRecord, StarterRecord, StopRequest, append_history, clear_stop_request,
                    list_proc_roles, now_iso, read_history, read_proc_record,
                    read_starter_record, read_stop_request, write_proc_record,
                    write_starter_record, write_stop_request)
from .run_record import (ProcessSpec, RunRecord, StopPolicy, read_params, read_run_record,
                         write_run_record)
from .rundir import (RunName, RunPaths, check_experiment_name, check_role_name, create_run_dir,
                     parse_run_dir_name, run_dir_name)
from .state import (CheckpointState, read_state, renew_state, resolve_checkpoint_path,
                    state_lock, write_state)
from .videos import (VIDEO_SOURCES, VideoEntry, append_video_entry, claim_video_path,
                     read_video_index, temp_video_path, video_base_name)
from .viewer import (VIEWER_STATES, ViewerStatus, list_viewer_statuses, read_viewer_status,
                     write_viewer_status)

__all__ = [n for n in dir() if not n.startswith("_")]
