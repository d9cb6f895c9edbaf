"""An OCI image-layout tarball from a rootfs directory, deterministic (no times, no owners):

    python3 oci_image.py ROOTFS OUT.tar IMAGE_NAME

then `ctr images import --snapshotter native OUT.tar`. Used by the e2e tests under a real
containerd (tests/driver/e2e.rs) and by benches/driver_containerd.sh.
"""
import hashlib, io, json, os, sys, tarfile
rootfs, out = sys.argv[1], sys.argv[2]
def tar_bytes(add):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        add(t)
    return buf.getvalue()
def layer(t):
    for dirpath, dirnames, filenames in os.walk(rootfs):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            ti = t.gettarinfo(full, os.path.relpath(full, rootfs))
            ti.uid = ti.gid = 0; ti.uname = ti.gname = ""; ti.mtime = 0
            if ti.isfile():
                with open(full, "rb") as f:
                    t.addfile(ti, f)
            else:
                t.addfile(ti)
blobs = {}
def blob(data):
    d = hashlib.sha256(data).hexdigest()
    blobs[d] = data
    return {"digest": "sha256:" + d, "size": len(data)}
lay = tar_bytes(layer)
cfg = blob(json.dumps({"architecture": "amd64", "os": "linux",
    "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(lay).hexdigest()]}}).encode())
man = blob(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": dict(cfg, mediaType="application/vnd.oci.image.config.v1+json"),
    "layers": [dict(blob(lay), mediaType="application/vnd.oci.image.layer.v1.tar")]}).encode())
index = {"schemaVersion": 2, "manifests": [dict(man, mediaType="application/vnd.oci.image.manifest.v1+json",
    annotations={"io.containerd.image.name": sys.argv[3], "org.opencontainers.image.ref.name": "1"})]}
def outer(t):
    def put(name, data):
        ti = tarfile.TarInfo(name); ti.size = len(data); ti.mtime = 0
        t.addfile(ti, io.BytesIO(data))
    put("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    put("index.json", json.dumps(index).encode())
    for d in sorted(blobs):
        put("blobs/sha256/" + d, blobs[d])
with open(out, "wb") as f:
    f.write(tar_bytes(outer))
