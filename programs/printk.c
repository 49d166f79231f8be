// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_printk: a debug build that says what it sees. For every IPv4 packet
 * (untagged or behind one 802.1Q tag) it writes the IP protocol and TTL
 * with bpf_printk and counts the packet in seen[0]; every packet gets
 * XDP_PASS, except TTL 0, which is dropped (with a line saying so).
 * Non-IPv4 frames are passed with a line naming their EtherType.
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
	__be16 encap_proto;
};

/* [0]: IPv4 packets seen, [1]: dropped */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&seen, &idx);

	if (c)
		__sync_fetch_and_add(c, 1);
}

SEC("xdp")
int xdp_printk(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph;
	__be16 proto;

	if ((void *)(eth + 1) > data_end) {
		bpf_printk("short frame: %d bytes", (int)(data_end - data));
		return XDP_PASS;
	}
	proto = eth->h_proto;
	iph = (void *)(eth + 1);
	if (proto == bpf_htons(ETH_P_8021Q)) {
		struct vlan_hdr *vh = (void *)(eth + 1);

		if ((void *)(vh + 1) > data_end)
			return XDP_PASS;
		bpf_printk("vlan %d", bpf_ntohs(vh->tci) & 0xfff);
		proto = vh->encap_proto;
		iph = (void *)(vh + 1);
	}
	if (proto != bpf_htons(ETH_P_IP)) {
		bpf_printk("not IPv4: ethertype 0x%04x", bpf_ntohs(proto));
		return XDP_PASS;
	}
	if ((void *)(iph + 1) > data_end)
		return XDP_PASS;
	bpf_printk("ipv4 proto %d ttl %d", iph->protocol, iph->ttl);
	count(0);
	if (iph->ttl == 0) {
		bpf_printk("ttl 0: drop");
		count(1);
		return XDP_DROP;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
