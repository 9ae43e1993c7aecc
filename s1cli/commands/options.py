"""Options shared by several commands, declared once so their names and help stay consistent."""

from __future__ import annotations

import typer

from ..layouts import LAYOUTS
from ..length_control import DEFAULT_MAX_TRIES, DEFAULT_STEP_TOKENS

MAP = typer.Option(
    None, "--map", "-m", metavar="NEW=OLD",
    help="Rename column OLD to NEW as rows are read (repeatable), e.g. --map thinking=thinking_trajectories.",
)
def given(ctx: typer.Context) -> set[str]:
    """The parameters the user set (on the command line or from the environment), not left at their default."""
    # By name: typer has its own ParameterSource enum, apart from click's.
    return {name for name in ctx.params
            if getattr(ctx.get_parameter_source(name), "name", "DEFAULT") not in ("DEFAULT", "DEFAULT_MAP")}


LAYOUT = typer.Option(
    None, "--layout", metavar="NAME",
    help=f"Read a published dataset as it ships ({', '.join(LAYOUTS)}): its column map, so no --map is "
         "needed; --map still renames on top.",
)
OVERWRITE = typer.Option(
    False, "--overwrite", help="Start the output afresh instead of resuming from the rows already in it.",
)

# Generation options shared by `s1 generate` and `s1 bench`.
FORMAT = typer.Option(None, "--format", metavar="[auto|s1|r1|qwen3|custom]", show_default=False,
                      help="Thinking format: s1, r1, qwen3, custom or auto (the one the tokenizer holds as single "
                           "tokens). Default: the format s1 sft recorded with the model, else auto.")
THINK_START = typer.Option(None, "--think-start", help="With --format custom: the text that opens thinking.")
THINK_END = typer.Option(None, "--think-end", help="With --format custom: the text that ends thinking.")
MIN_THINKING = typer.Option(0, "--min-thinking-tokens",
                            help="Extend thinking (append the wait string) until it has N tokens.")
WAIT = typer.Option("Wait", "--wait-string", help="Text appended to extend thinking.")
MAX_ANSWER = typer.Option(1024, "--max-answer-tokens", help="Tokens allowed after thinking ends.")
ANSWER_PREFIX = typer.Option("", "--answer-prefix",
                             help='Text forced at the start of the answer, e.g. "Final Answer:".')
TEMPERATURE = typer.Option(0.0, "--temperature", help="Sampling temperature; 0 is greedy.")
TOP_P = typer.Option(1.0, "--top-p", help="Nucleus sampling threshold.")
SEED = typer.Option(0, "--seed", help="Seed; each (id, sample) draws its own reproducible stream.")
# The length-control methods' own settings (length_control.py), for bench's --methods and generate's --method.
STEP_TOKENS = typer.Option(DEFAULT_STEP_TOKENS, "--step-tokens", min=1,
                           help="step-conditional: tokens per step (a budget of N tokens asks for N / this steps).")
MAX_TRIES = typer.Option(DEFAULT_MAX_TRIES, "--max-tries", min=1,
                         help="rejection-sampling: draws per sample; none within the cap: no answer (columns "
                              "tries, accepted).")
SYSTEM = typer.Option(None, "--system", help="System message for the chat template.")
BATCH_SIZE = typer.Option(16, "--batch-size", help="Sequences decoded together.")
DRIVER = typer.Option("auto", "--driver", metavar="[auto|single|multi]",
                      help="Budget forcing driver: single (one pass), multi (rounds), auto (engine's best).")
DTYPE = typer.Option("auto", "--dtype", metavar="[auto|float32|bfloat16|float16|float64]",
                     help="hf/vllm weights: auto, float32, bfloat16, float16, float64.")
DEVICE = typer.Option("auto", "--device", help="hf: auto, cpu, cuda, cuda:1, ...")
BASE_URL = typer.Option(None, "--base-url", help="openai: the server's base URL, e.g. http://host:8000/v1.")
TOKENIZER = typer.Option(None, "--tokenizer", help="openai: local tokenizer path or hub id (default: the model name).")

# API-model options shared by `s1 grade` and `s1 classify-msc`.
BATCH = typer.Option(False, "--message-batches", help="Use Anthropic Message Batches (half price; resumable).")
BATCH_OLD = typer.Option(False, "--batch", hidden=True)  # the old name of --message-batches
POLL_INTERVAL = typer.Option(30.0, "--poll-interval", min=0.0, help="Seconds between batch polls.")
MAX_COST = typer.Option(None, "--max-cost", min=0.0, metavar="USD",
                                   help="Stop before this run's spending could pass USD (cached replies are free).")
DRY_RUN = typer.Option(False, "--dry-run", help="Print how many calls and what they may cost; call nothing.")
CACHE = typer.Option(None, "--cache", help="Response cache (SQLite) [default: $S1_CACHE_DIR/llm.sqlite or "
                                                     "~/.cache/s1cli/llm.sqlite].")
PRICES = typer.Option(None, "--prices", help="JSON price table overriding the built-in one "
                                                       "(USD per million tokens).")
RETRIES = typer.Option(6, "--retries", min=1, help="Tries per request on 429/5xx/overloaded/timeouts.")
BACKOFF = typer.Option(1.0, "--backoff", min=0.0, help="First retry wait in seconds (doubles, jittered).")
TIMEOUT = typer.Option(120.0, "--timeout", min=0.1, help="Seconds before a model call times out.")

# vLLM engine options shared by `s1 generate` and `s1 bench` (vllm: models only; see engines/engine_args.py).
TENSOR_PARALLEL_SIZE = typer.Option(None, "--tensor-parallel-size", metavar="N",
                                    help="vllm: GPUs each copy of the model is split across, e.g. 8 for a 32B "
                                         "model on 8 GPUs [default: 1].")
DATA_PARALLEL_SIZE = typer.Option(None, "--data-parallel-size", metavar="N",
                                  help="vllm: copies of the model decoding side by side [default: 1]; vLLM 0.32's "
                                       "offline engine refuses N > 1 in one process: use --shard I/N.")
MAX_MODEL_LEN = typer.Option(None, "--max-model-len", metavar="TOKENS",
                             help="vllm: the context (prompt, thinking and answer) [default: the model's].")
GPU_MEMORY_UTILIZATION = typer.Option(None, "--gpu-memory-utilization", metavar="FRACTION",
                                      help="vllm: share of each GPU's memory for weights and KV cache, in (0, 1] "
                                           "[default: vLLM's, 0.9].")
ENFORCE_EAGER = typer.Option(False, "--enforce-eager",
                             help="vllm: no CUDA graphs (starts sooner and uses less memory; decodes slower).")
ENGINE_ARG = typer.Option(None, "--engine-arg", metavar="KEY=VALUE",
                          help="vllm: any other vllm.LLM / EngineArgs argument (repeatable), e.g. max_num_seqs=64 or "
                               "enable_prefix_caching=false; VALUE is read as JSON, else as text.")
