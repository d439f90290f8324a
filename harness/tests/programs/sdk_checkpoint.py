"""A Python program that names its checkpoints with vmlab.py: it declares a
bytearray as a region, waits at after-alloc, writes it, waits at after-write.
The folder holding vmlab.py comes as the first argument."""

import sys

sys.path.insert(0, sys.argv[1])
import vmlab  # noqa: E402

size = int(sys.argv[2]) if len(sys.argv) > 2 else 1 << 20
data = bytearray(size)
assert vmlab.region("data", vmlab.address_of(data), len(data))
assert vmlab.note("data_bytes", size)
assert vmlab.checkpoint("after-alloc")
for i in range(0, size, 4096):
    data[i] = 1
assert vmlab.checkpoint("after-write")
print("done, under the harness: %s" % ("yes" if vmlab.active() else "no"))
