"""Task encoder: a Qwen2-architecture model (built-in or pretrained) that turns demonstration pairs into a
prompt vector. The only package that imports transformers."""
