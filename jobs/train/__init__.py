"""The trainer stage: a GPT trained on packed token shards (`train`, `tokenmill train`)."""
from tokenmill.jobs.train.trainer import TrainResult, TrainingDiverged, train

__all__ = ["TrainResult", "TrainingDiverged", "train"]
