// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_counter: count IPv4 packets per IP protocol number.
 *
 * Ethernet, optionally one 802.1Q tag, then IPv4. Every packet gets
 * XDP_PASS; only well-formed IPv4 packets are counted, in
 * proto_count[iph->protocol].
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef ETH_P_8021Q
#define ETH_P_8021Q 0x8100
#endif

struct vlan_hdr {
	__be16 tci;
	__be16 encap_proto; /* EtherType of what follows the tag */
};

/* key: IP protocol number (0..255), value: packets seen */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} proto_count SEC(".maps");

SEC("xdp")
int xdp_counter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph;
	__be16 proto;
	__u32 key;
	__u64 *cnt;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	proto = eth->h_proto;
	iph = (void *)(eth + 1);

	if (proto == bpf_htons(ETH_P_8021Q)) {
		struct vlan_hdr *vh = (void *)(eth + 1);

		if ((void *)(vh + 1) > data_end)
			return XDP_PASS;
		proto = vh->encap_proto;
		iph = (void *)(vh + 1);
	}
	if (proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;

	/* Malformed or truncated IPv4 header: pass, count nothing. */
	if ((void *)(iph + 1) > data_end)
		return XDP_PASS;
	if (iph->version != 4 || iph->ihl < 5)
		return XDP_PASS;
	if ((void *)iph + iph->ihl * 4 > data_end)
		return XDP_PASS;

	key = iph->protocol;
	cnt = bpf_map_lookup_elem(&proto_count, &key);
	if (cnt)
		*cnt += 1; /* per-CPU slot: no atomics needed */
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
