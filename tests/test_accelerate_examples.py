"""The accelerate configs the README points at load with accelerate's own reader and say what they claim."""

from __future__ import annotations

from pathlib import Path

import pytest
from accelerate.commands.config.config_args import load_config_from_file
from accelerate.utils import DistributedType

CONFIGS = Path(__file__).resolve().parent.parent / "examples" / "accelerate"
README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["fsdp.yaml", "deepspeed_zero3.yaml", "multi_node.yaml"])
def test_config_loads_in_bf16_and_is_documented(name):
    config = load_config_from_file(str(CONFIGS / name))
    assert config.mixed_precision == "bf16"
    assert f"examples/accelerate/{name}" in README


def test_fsdp_configs_fully_shard_and_wrap_qwen2_decoder_layers():
    for name in ("fsdp.yaml", "multi_node.yaml"):
        config = load_config_from_file(str(CONFIGS / name))
        assert config.distributed_type == DistributedType.FSDP
        assert config.fsdp_config["fsdp_sharding_strategy"] == "FULL_SHARD"
        assert config.fsdp_config["fsdp_transformer_layer_cls_to_wrap"] == "Qwen2DecoderLayer"


def test_deepspeed_config_is_zero3():
    config = load_config_from_file(str(CONFIGS / "deepspeed_zero3.yaml"))
    assert config.distributed_type == DistributedType.DEEPSPEED
    assert config.deepspeed_config["zero_stage"] == 3


def test_multi_node_config_names_the_main_process_and_ranks():
    config = load_config_from_file(str(CONFIGS / "multi_node.yaml"))
    assert config.num_machines == 2 and config.machine_rank == 0
    assert config.main_process_ip and config.main_process_port
