// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_xsk_steer: hands chosen flows to user space through AF_XDP sockets,
 * the rest to the kernel, the way user-space packet engines (an IDS, a DPDK
 * AF_XDP port, a DNS server) take their traffic off an interface.
 *
 * A rule in `steer` matches the destination port and protocol of an IPv4 or
 * IPv6 UDP/TCP packet and names the XSKMAP slot whose socket gets the frame;
 * SLOT_BY_QUEUE means "the socket of the queue the frame came in on", the
 * usual one-socket-per-queue layout.
 *   - not IPv4/IPv6 UDP or TCP, or a truncated header -> XDP_PASS, uncounted
 *   - no rule for (port, protocol)                     -> XDP_PASS, [1]
 *   - a rule, the slot has a socket                    -> XDP_REDIRECT, [0]
 *   - a rule, the slot has no socket                   -> XDP_PASS, [2]
 *     (bpf_redirect_map falls back to its flags)
 * Counters are steer_stats[index], per CPU.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define SLOT_BY_QUEUE 0xffffffff

struct steer_key {
	__u16 port; /* destination port, host order */
	__u8 proto; /* IPPROTO_UDP or IPPROTO_TCP */
	__u8 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct steer_key);
	__type(value, __u32); /* XSKMAP slot, or SLOT_BY_QUEUE */
} steer SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} steer_stats SEC(".maps");

static __always_inline void count(__u32 index)
{
	__u64 *n = bpf_map_lookup_elem(&steer_stats, &index);

	if (n)
		*n += 1;
}

SEC("xdp")
int xdp_xsk_steer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct steer_key key = {};
	struct udphdr *l4; /* TCP ports sit where UDP's do */
	__u32 *slot, target;
	long action;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = (void *)(eth + 1);

		if ((void *)(iph + 1) > data_end || iph->ihl < 5)
			return XDP_PASS;
		key.proto = iph->protocol;
		l4 = (void *)iph + iph->ihl * 4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = (void *)(eth + 1);

		if ((void *)(ip6h + 1) > data_end)
			return XDP_PASS;
		key.proto = ip6h->nexthdr;
		l4 = (void *)(ip6h + 1);
	} else {
		return XDP_PASS;
	}
	if (key.proto != IPPROTO_UDP && key.proto != IPPROTO_TCP)
		return XDP_PASS;
	if ((void *)(l4 + 1) > data_end)
		return XDP_PASS;
	key.port = bpf_ntohs(l4->dest);

	slot = bpf_map_lookup_elem(&steer, &key);
	if (!slot) {
		count(1);
		return XDP_PASS;
	}
	target = *slot == SLOT_BY_QUEUE ? ctx->rx_queue_index : *slot;
	action = bpf_redirect_map(&xsks_map, target, XDP_PASS);
	count(action == XDP_REDIRECT ? 0 : 2);
	return action;
}

char LICENSE[] SEC("license") = "GPL";
