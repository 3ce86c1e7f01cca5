"""The trainer stage: a GPT trained on packed token shards."""
