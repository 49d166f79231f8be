// Appends a trailer of 1000 bytes to every frame (as in-band telemetry appends its records) and sends
// it back out: growth a test run must report whole, beyond the 512 bytes of room it used to give.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_grow(struct xdp_md *ctx)
{
	if (bpf_xdp_adjust_tail(ctx, 1000))
		return XDP_ABORTED;
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
