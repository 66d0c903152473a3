"""AR try-on (AR试穿): the 3D assets of SKUs, checked on upload, and the try-on report."""
