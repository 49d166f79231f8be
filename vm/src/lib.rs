//! Disposable qemu VMs that run the same suite on the kernels production uses.
//! Not implemented yet: see issue 4.
