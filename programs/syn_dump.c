// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_syn_dump: reports TCP connection attempts to user space, the way the
 * classic xdp_dump example does: every SYN (without ACK), IPv4 or IPv6,
 * becomes a `struct syn_event` on the perf event array `syn_events`, followed
 * by the first bytes of the packet (bpf_perf_event_output's flags carry the
 * packet length in their upper 32 bits). Resets are reported on the ring
 * buffer `rst_events` as a bare `struct rst_event`. Everything passes.
 *
 * Configuration, `const volatile` (fixed at load, as libbpf skeletons set it):
 *   watch_port    only SYNs to this destination port (0: every port)
 *   sample_bytes  how many packet bytes follow each syn_event (at most 128)
 * Statistics, in .bss: syns_seen, rsts_seen; in .data: last_dport (starts at
 * 0xffff: "none yet"). The destination ports of the last 4 SYNs are kept in the
 * queue `recent_ports` (the oldest overwritten), the source ports of resets on
 * the stack `reset_ports`.
 *
 * Ethernet, then IPv4 (with options) or IPv6 (no extension headers), then TCP.
 * Anything else, or a truncated header: XDP_PASS, nothing reported.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MAX_SAMPLE 128

struct syn_event {
	__u8 family;    /* 4 or 6 */
	__u8 flags;     /* the TCP flags byte */
	__u16 sport;    /* host order */
	__u16 dport;    /* host order */
	__u16 pkt_len;  /* the whole frame */
	__u32 seq;      /* host order */
	__u16 mss;      /* 0 when the SYN has none */
	__u16 window;   /* host order */
};

/* Only ever a local: clang writes no BTF for it (a spec must give its bytes). */
struct rst_event {
	__u16 sport;
	__u16 dport;
};

const volatile __u16 watch_port = 0;
const volatile __u32 sample_bytes = 64;

__u64 syns_seen = 0;
__u64 rsts_seen = 0;
__u16 last_dport = 0xffff;

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} syn_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rst_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 4);
	__type(value, __u16);
} recent_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 4);
	__type(value, __u16);
} reset_ports SEC(".maps");

/* Makes `struct syn_event` part of the object's BTF, so specs can name it. */
struct syn_event *syn_event_type __attribute__((unused));

static __always_inline __u16 mss_of(struct tcphdr *tcp, void *data_end)
{
	__u8 *base = (__u8 *)tcp;
	__u32 hlen = tcp->doff * 4;
	__u32 off = sizeof(*tcp);
	int i;

	for (i = 0; i < 8; i++) {
		__u8 *p;

		if (off >= hlen)
			return 0;
		off &= 0x3f;
		p = base + off;
		if ((void *)(p + 2) > data_end)
			return 0;
		if (p[0] == 0)
			return 0;
		if (p[0] == 1) {
			off++;
			continue;
		}
		if (p[1] < 2)
			return 0;
		if (p[0] == 2) {
			if (p[1] != 4 || (void *)(p + 4) > data_end)
				return 0;
			return ((__u16)p[2] << 8) | p[3];
		}
		off += p[1];
	}
	return 0;
}

SEC("xdp")
int xdp_syn_dump(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct syn_event ev = {};
	struct tcphdr *tcp;
	__u64 sample;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = (void *)(eth + 1);

		if ((void *)(iph + 1) > data_end || iph->ihl < 5 || iph->protocol != IPPROTO_TCP)
			return XDP_PASS;
		tcp = (void *)iph + iph->ihl * 4;
		ev.family = 4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = (void *)(eth + 1);

		if ((void *)(ip6h + 1) > data_end || ip6h->nexthdr != IPPROTO_TCP)
			return XDP_PASS;
		tcp = (void *)(ip6h + 1);
		ev.family = 6;
	} else {
		return XDP_PASS;
	}
	if ((void *)(tcp + 1) > data_end)
		return XDP_PASS;

	if (tcp->rst) {
		struct rst_event *r = bpf_ringbuf_reserve(&rst_events, sizeof(*r), 0);

		rsts_seen++;
		ev.sport = bpf_ntohs(tcp->source);
		bpf_map_push_elem(&reset_ports, &ev.sport, BPF_EXIST);
		if (r) {
			r->sport = bpf_ntohs(tcp->source);
			r->dport = bpf_ntohs(tcp->dest);
			bpf_ringbuf_submit(r, 0);
		}
		return XDP_PASS;
	}
	if (!tcp->syn || tcp->ack)
		return XDP_PASS;
	if (watch_port && bpf_ntohs(tcp->dest) != watch_port)
		return XDP_PASS;

	syns_seen++;
	last_dport = bpf_ntohs(tcp->dest);
	bpf_map_push_elem(&recent_ports, &last_dport, BPF_EXIST);
	ev.flags = ((__u8 *)tcp)[13];
	ev.sport = bpf_ntohs(tcp->source);
	ev.dport = bpf_ntohs(tcp->dest);
	ev.pkt_len = data_end - data;
	ev.seq = bpf_ntohl(tcp->seq);
	ev.mss = mss_of(tcp, data_end);
	ev.window = bpf_ntohs(tcp->window);
	sample = sample_bytes < MAX_SAMPLE ? sample_bytes : MAX_SAMPLE;
	if (sample > ev.pkt_len)
		sample = ev.pkt_len;
	bpf_perf_event_output(ctx, &syn_events, (sample << 32) | BPF_F_CURRENT_CPU, &ev, sizeof(ev));
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
