//! Node operations under a real containerd: a restart under a running container, `scan`.
