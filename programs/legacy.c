// SPDX-License-Identifier: GPL-2.0
/*
 * Programs written the way libbpf 0.x tutorials taught: section names that
 * libbpf 1.x no longer knows (iproute2's `ip link set xdp obj legacy.o sec
 * xdp_patch_ports` and xdp-loader still load them, setting the type
 * themselves), a statistics map pinned by name, and, beside them, a program of
 * another type and a multi-buffer one.
 *
 * xdp_stats_map[action] counts the packets and bytes each program returned
 * `action` for (a PERCPU_ARRAY pinned with LIBBPF_PIN_BY_NAME: loaders share
 * it through /sys/fs/bpf/xdp_stats_map).
 *
 *   SEC("xdp_pass")        xdp_pass_func         -> XDP_PASS, counted
 *   SEC("xdp_drop")        xdp_drop_func         -> XDP_DROP, counted
 *   SEC("xdp_patch_ports") xdp_patch_ports_func  -> IPv4/IPv6 + UDP or TCP:
 *       the destination port goes down by one (checksum updated
 *       incrementally), XDP_PASS; anything else, or a truncated header,
 *       XDP_ABORTED. Counted either way.
 *   SEC("prog")            xdp_prog_simple       -> XDP_PASS, uncounted
 *                                                  (iproute2's default section)
 *   SEC("xdp.frags")       xdp_frags_len         -> XDP_PASS, counted with the
 *       whole multi-buffer length (bpf_xdp_get_buff_len); XDP_DROP when the
 *       last byte of the frame (read with bpf_xdp_load_bytes, in the last
 *       fragment of a large frame) is 0xff
 *   SEC("tc")              tc_pass               -> a tc program, never XDP
 *   SEC("xdp/devmap")      xdp_devmap_mark       -> runs on frames redirected
 *       through a DEVMAP entry that names it; XDP_PASS
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef XDP_ACTION_MAX
#define XDP_ACTION_MAX (XDP_REDIRECT + 1)
#endif

struct datarec {
	__u64 rx_packets;
	__u64 rx_bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct datarec);
	__uint(max_entries, XDP_ACTION_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdp_stats_map SEC(".maps");

static __always_inline __u32 record(__u64 bytes, __u32 action)
{
	struct datarec *rec = bpf_map_lookup_elem(&xdp_stats_map, &action);

	if (rec) {
		rec->rx_packets++;
		rec->rx_bytes += bytes;
	}
	return action;
}

static __always_inline __u64 frame_len(struct xdp_md *ctx)
{
	return ctx->data_end - ctx->data;
}

SEC("xdp_pass")
int xdp_pass_func(struct xdp_md *ctx)
{
	return record(frame_len(ctx), XDP_PASS);
}

SEC("xdp_drop")
int xdp_drop_func(struct xdp_md *ctx)
{
	return record(frame_len(ctx), XDP_DROP);
}

/* RFC 1624 incremental update of a 16-bit checksum for one changed word. */
static __always_inline void csum_replace2(__u16 *sum, __u16 old, __u16 new)
{
	__u32 c = (__u16)~*sum + (__u32)(__u16)~old + new;

	c = (c & 0xffff) + (c >> 16);
	c = (c & 0xffff) + (c >> 16);
	*sum = (__u16)~c;
}

SEC("xdp_patch_ports")
int xdp_patch_ports_func(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u64 len = frame_len(ctx);
	__u8 proto;
	void *l4;

	if ((void *)(eth + 1) > data_end)
		return record(len, XDP_ABORTED);
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = (void *)(eth + 1);

		if ((void *)(iph + 1) > data_end || iph->ihl < 5)
			return record(len, XDP_ABORTED);
		proto = iph->protocol;
		l4 = (void *)iph + iph->ihl * 4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = (void *)(eth + 1);

		if ((void *)(ip6h + 1) > data_end)
			return record(len, XDP_ABORTED);
		proto = ip6h->nexthdr;
		l4 = ip6h + 1;
	} else {
		return record(len, XDP_ABORTED);
	}
	if (proto == IPPROTO_UDP) {
		struct udphdr *udp = l4;
		__u16 old;

		if ((void *)(udp + 1) > data_end)
			return record(len, XDP_ABORTED);
		old = udp->dest;
		udp->dest = bpf_htons(bpf_ntohs(old) - 1);
		if (udp->check)
			csum_replace2(&udp->check, old, udp->dest);
	} else if (proto == IPPROTO_TCP) {
		struct tcphdr *tcp = l4;
		__u16 old;

		if ((void *)(tcp + 1) > data_end)
			return record(len, XDP_ABORTED);
		old = tcp->dest;
		tcp->dest = bpf_htons(bpf_ntohs(old) - 1);
		csum_replace2(&tcp->check, old, tcp->dest);
	} else {
		return record(len, XDP_ABORTED);
	}
	return record(len, XDP_PASS);
}

SEC("prog")
int xdp_prog_simple(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp.frags")
int xdp_frags_len(struct xdp_md *ctx)
{
	__u64 len = bpf_xdp_get_buff_len(ctx);
	__u8 last;

	if (len == 0 || bpf_xdp_load_bytes(ctx, len - 1, &last, 1))
		return record(len, XDP_ABORTED);
	return record(len, last == 0xff ? XDP_DROP : XDP_PASS);
}

SEC("xdp/devmap")
int xdp_devmap_mark(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("tc")
int tc_pass(struct __sk_buff *skb)
{
	return 0; /* TC_ACT_OK */
}

char LICENSE[] SEC("license") = "GPL";
