// SPDX-License-Identifier: GPL-2.0
/* A per-source rate limiter of the kind DDoS filters put in front of a service: each IPv4 source
 * may send BURST packets at once, and earns one more every NS_PER_TOKEN from the time of its last
 * refill (bpf_ktime_get_ns). One packet in SAMPLE_EVERY is counted for telemetry, picked by
 * bpf_get_prandom_u32. Tests set both (`clock`, `random`) to make time and chance repeatable. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define BURST        3
#define NS_PER_TOKEN (1000000000ULL / 3) /* three packets a second */
#define SAMPLE_EVERY 64

enum { STAT_DROPPED, STAT_SAMPLED, STAT_MAX };

struct bucket {
	__u64 tokens;
	__u64 refilled_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);             /* IPv4 source, network order */
	__type(value, struct bucket);
} buckets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void count(__u32 stat)
{
	__u64 *n = bpf_map_lookup_elem(&stats, &stat);

	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("xdp")
int xdp_ratelimit(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	struct bucket *b, fresh;
	__u64 now, earned;
	__u32 src;

	if ((void *)(iph + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	src = iph->saddr;
	now = bpf_ktime_get_ns();
	if (bpf_get_prandom_u32() % SAMPLE_EVERY == 0)
		count(STAT_SAMPLED);

	b = bpf_map_lookup_elem(&buckets, &src);
	if (!b) {
		/* A new source starts with a full bucket, this packet taken from it. */
		fresh.tokens = BURST - 1;
		fresh.refilled_ns = now;
		bpf_map_update_elem(&buckets, &src, &fresh, BPF_ANY);
		return XDP_PASS;
	}
	earned = (now - b->refilled_ns) / NS_PER_TOKEN;
	if (earned) {
		b->tokens = b->tokens + earned > BURST ? BURST : b->tokens + earned;
		b->refilled_ns += earned * NS_PER_TOKEN;
	}
	if (b->tokens == 0) {
		count(STAT_DROPPED);
		return XDP_DROP;
	}
	b->tokens--;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
