// SPDX-License-Identifier: GPL-2.0
/* Returns every way coverage has to follow: a constant, a variable set on two paths, the result of a
 * subprogram (not inlined), and a block that `.rodata` switches off, which the verifier removes as dead
 * code. The byte after the Ethernet header picks the path. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 debug = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

static __attribute__((noinline)) int classify(__u8 second)
{
	if (second == 0xff)
		return XDP_DROP;
	return XDP_PASS;
}

SEC("xdp")
int xdp_cover(struct xdp_md *ctx)
{
	__u8 *p = (void *)(long)ctx->data + 14;
	void *data_end = (void *)(long)ctx->data_end;
	int action = XDP_PASS;

	if ((void *)(p + 2) > data_end)
		return XDP_ABORTED;
	if (debug) {
		__u32 k = 0;
		__u64 *v = bpf_map_lookup_elem(&seen, &k);

		if (v)
			*v += 1;
	}
	if (p[0] == 0x01)
		action = XDP_TX;
	else if (p[0] == 0x02)
		return classify(p[1]);
	return action;
}

char LICENSE[] SEC("license") = "GPL";
