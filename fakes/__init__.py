"""Stand-in servers on 127.0.0.1 for tests and benchmarks (dev only; not part of the s1cli wheel):
``anthropic_api`` (Anthropic Messages + Batches and an OpenAI-compatible chat API) and
``openai_server`` (OpenAI-compatible completions served by a local model through the hf engine);
``local`` holds what they share."""
