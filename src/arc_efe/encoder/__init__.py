"""Task encoder: the Qwen2 wrapper that turns demonstration pairs into a prompt, the prompt cache and the
refiner policy. The only package that imports transformers."""
