// A program with a CO-RE relocation: the offset of `pid` in the kernel's `struct task_struct`, which
// only the kernel's BTF knows (the local declaration puts it at 0). Dropping says the relocation was
// resolved against the running kernel; passing would mean the loader skipped it.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct task_struct {
	int pid;
} __attribute__((preserve_access_index));

SEC("xdp")
int xdp_core_offset(struct xdp_md *ctx)
{
	return bpf_core_field_offset(struct task_struct, pid) > 0 ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
