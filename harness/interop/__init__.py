"""Hugging Face interop: conversion between our model and ``LlamaForCausalLM`` (``hf``), export of a run
(``export``) and relufying fine-tunes of a Llama checkpoint (``finetune``).

May import: ``models``, ``harness.data``, ``harness.train``, ``harness.infer`` and the base modules.
"""
