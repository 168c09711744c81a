"""The ML pipeline: base models, LoRA training and generation (torch/diffusers/peft live only here).

Nothing in this package imports Django; the Django layer passes plain values, paths, PIL images
and callbacks in and gets dataclasses back.
"""
