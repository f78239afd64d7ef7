"""Memory images: export a PyTorch model to packed weight words + manifest, and load one."""

from accelsim.image.memory_image import LayerImage, MemoryImage, load_image


def export_image(*args, **kwargs):
    from accelsim.image.export import export_image as _export

    return _export(*args, **kwargs)


__all__ = ["LayerImage", "MemoryImage", "export_image", "load_image"]
