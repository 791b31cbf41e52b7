#!/usr/bin/env python3
"""Zeroes the GPU code in a shared library's .nv_fatbin section that a given GPU cannot run, so
the library compresses to a fraction of its size for the trip to the GPU machine.

  prune_fatbin.py LIB.so --keep-arch 90     (in place; prints what it kept and zeroed)

A CUDA fatbin holds one entry per (kind, architecture): SASS (ELF) for sm_75, sm_80, sm_90...,
and PTX. The CUDA runtime loads, for a device of compute capability 9.x, an sm_90 ELF entry (or
JITs PTX); ELF entries of other major architectures cannot run on it and are never read. This
script keeps every entry's header and size (the section layout and every offset stay as they
were) and overwrites the payload of ELF entries whose architecture is not --keep-arch with
zeros. PTX entries are kept. Entries with a payload it cannot parse stop the script: the library
is left untouched.

Fatbin layout (NVIDIA's, as cuobjdump reads it): a 16-byte header (magic 0xBA55ED50, version,
header size, payload size) followed by entries; each entry header holds kind (1 PTX, 2 ELF),
its header size, the payload size and, at byte 28, the SM architecture (e.g. 90).
"""
import argparse
import collections
import struct
import subprocess
import sys

MAGIC = 0xBA55ED50


def fatbin_section(path):
    out = subprocess.run(["readelf", "-S", "-W", path], capture_output=True, text=True,
                         check=True).stdout
    for line in out.splitlines():
        if ".nv_fatbin" in line:
            fields = line.split("]", 1)[1].split()
            return int(fields[3], 16), int(fields[4], 16)
    return None


def entries(data, start, end):
    """(offset, payload offset, payload size, kind, arch) of every entry in [start, end)."""
    pos = start
    while pos + 16 <= end:
        magic, _version, header, size = struct.unpack_from("<IHHQ", data, pos)
        if magic != MAGIC:
            pos += 8  # fatbins are 8-byte aligned; padding between them
            continue
        e, stop = pos + header, pos + header + size
        if stop > end:
            raise ValueError("fatbin at 0x%x runs past the section" % pos)
        while e < stop:
            kind, _, eheader, payload = struct.unpack_from("<HHIQ", data, e)
            arch = struct.unpack_from("<I", data, e + 28)[0]
            if kind not in (1, 2) or eheader < 32 or e + eheader + payload > stop:
                raise ValueError("unreadable fatbin entry at 0x%x" % e)
            yield e, e + eheader, payload, kind, arch
            e += eheader + payload
        pos = stop


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("library")
    ap.add_argument("--keep-arch", type=int, required=True, help="SM architecture, e.g. 90")
    args = ap.parse_args()
    section = fatbin_section(args.library)
    if section is None:
        print("%s: no .nv_fatbin section; nothing to prune" % args.library)
        return 0
    data = bytearray(open(args.library, "rb").read())
    off, size = section
    try:
        found = list(entries(data, off, off + size))
    except ValueError as e:
        print("%s: %s; left unchanged" % (args.library, e), file=sys.stderr)
        return 1
    kept, zeroed = collections.Counter(), collections.Counter()
    for _, payload_off, payload, kind, arch in found:
        if kind == 2 and arch != args.keep_arch:
            data[payload_off:payload_off + payload] = bytes(payload)
            zeroed[arch] += payload
        else:
            kept[("ptx " if kind == 1 else "sm_") + str(arch)] += payload
    if not kept:
        print("%s: no entry for sm_%d; left unchanged" % (args.library, args.keep_arch),
              file=sys.stderr)
        return 1
    with open(args.library, "wb") as f:
        f.write(data)
    mib = 1 << 20
    print("%s: kept %s; zeroed %s" % (
        args.library, ", ".join("%s %.0f MiB" % (k, v / mib) for k, v in sorted(kept.items())),
        ", ".join("sm_%d %.0f MiB" % (k, v / mib) for k, v in sorted(zeroed.items()))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
