"""accelsim: how low can the weight SRAM of a DNN accelerator go, and does ECC save it?

The data flow (see docs/architecture.md):
nn -> quant -> image -> faults -> hw -> infer -> energy; campaign and report on top.
"""

__version__ = "0.1.0"
