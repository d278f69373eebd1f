#!/usr/bin/env python3
"""Cut a CUDA shared library's device code to the GPU architectures given: the payload of every
cubin / PTX entry of its .nv_fatbin section for another architecture is overwritten with zeros.
Headers, offsets and sizes stay as they are, so the library loads as before; the zeros compress to
nothing, which is what this is for: ONNX Runtime's CUDA provider (229 MB; cubins for sm_75, 80,
86, 89, 90 and 120) cut to sm_90 is 38 MB as xz instead of 157 MB, small enough to carry to a GPU
machine in one call. A GPU of a dropped architecture cannot run the result (no PTX is kept).

Usage: fatbin_keep_arch.py IN OUT ARCH[,ARCH...]      e.g. ... libonnxruntime_providers_cuda.so out.so 90
"""
import struct
import subprocess
import sys

FATBIN_MAGIC = 0xBA55ED50


def fatbin_section(path):
    out = subprocess.run(["readelf", "-S", "-W", path], capture_output=True, text=True, check=True)
    for line in out.stdout.splitlines():
        parts = line.replace("[ ", "[").split()
        if ".nv_fatbin" in parts:
            i = parts.index(".nv_fatbin")
            return int(parts[i + 3], 16), int(parts[i + 4], 16)  # file offset, size
    raise SystemExit(f"{path}: no .nv_fatbin section")


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    keep = {int(a) for a in sys.argv[3].split(",")}
    off, size = fatbin_section(src)
    data = bytearray(open(src, "rb").read())
    kept = zeroed = 0
    kept_archs, seen = set(), set()
    pos, end_sec = off, off + size
    while pos + 16 <= end_sec:
        magic, _, header, fat_bytes = struct.unpack_from("<IHHQ", data, pos)
        if magic != FATBIN_MAGIC:  # fatbins are 8-byte aligned in the section
            pos += 8
            continue
        p, end = pos + header, pos + header + fat_bytes
        while p < end:
            kind, _, entry_header = struct.unpack_from("<HHI", data, p)
            payload = struct.unpack_from("<Q", data, p + 8)[0]
            arch = struct.unpack_from("<I", data, p + 28)[0]
            seen.add(arch)
            body = slice(p + entry_header, p + entry_header + payload)
            if arch in keep:
                # A kept cubin (kind 2) must still be an ELF image, plain or zstd-compressed;
                # anything else means the format is not what this reads: stop, nothing written.
                if kind == 2 and bytes(data[body][:4]) not in (b"\x7fELF", b"\x28\xb5\x2f\xfd"):
                    raise SystemExit(f"{src}: entry at {p:#x} (sm_{arch}) is not an ELF image")
                kept += payload
                kept_archs.add(arch)
            else:
                data[body] = bytes(payload)
                zeroed += payload
            p += entry_header + payload
        pos = end
    if not kept_archs:
        raise SystemExit(f"{src}: no device code for {sorted(keep)} (has {sorted(seen)})")
    with open(dst, "wb") as f:
        f.write(data)
    print(f"{dst}: kept sm_{sorted(kept_archs)} ({kept / 1e6:.1f} MB), zeroed "
          f"{sorted(seen - kept_archs)} ({zeroed / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
