"""Memory images: export a PyTorch model to packed weight words + manifest, and load one."""

from accelsim.lazy import lazy_exports


def export_image(*args, **kwargs):
    from accelsim.image.export import export_image as _export

    return _export(*args, **kwargs)


__all__ = ["LayerImage", "MemoryImage", "export_image", "load_image"]
__getattr__ = lazy_exports(__name__, {name: "accelsim.image.memory_image"
                                      for name in ("LayerImage", "MemoryImage", "load_image")})
