"""Supervised fine-tuning on reasoning traces (``s1 sft``).

- ``config``: the options, with the s1 paper's values as defaults;
- ``data``: load the tokenizer; render rows through the chat template with a thinking format, mask labels, pack;
- ``preflight``: what will be trained on, checked before any weight is loaded;
- ``trainer``: the accelerate training loop, checkpoints and resume.
"""
