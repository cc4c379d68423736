"""Open an slhf checkpoint with pyarrow, as a user would, and print a summary."""
import json
import struct
import sys

import pyarrow as pa

path = sys.argv[1]
with pa.memory_map(path) as source:
    table = pa.ipc.open_file(source).read_all()
meta = {k.decode(): v.decode() for k, v in table.schema.metadata.items()}
offsets = json.loads(meta["slhf.checkpoint.offsets"])
tensors = dict(zip(table.column("name").to_pylist(), table.column("values").to_pylist()))
nan = tensors["leader/w1"][7]
print(
    f"step={meta['slhf.checkpoint.step']}"
    f" offsets.feedback.0={offsets['feedback']['0']}"
    f" tensors={','.join(sorted(tensors))}"
    f" adam_m={tensors['follower/adam_m']}"
    f" nan_bits={hex(struct.unpack('<Q', struct.pack('<d', nan))[0])}"
)
