// Fixture for compiler/tests/btf_maps.rs: one of each map shape the .pkt
// `map` statement has to understand. Compiled with
//   clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c maps.c
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

struct inner {
	__u16 port;
	__u8 proto;
};

enum session_state {
	SESSION_IDLE = 0,
	SESSION_UP = 1,
	SESSION_DOWN = 7,
};

struct session {
	__be32 ue_ip;
	__be16 vlan_out;
	__u8 mac[6];
	struct inner nested;
	__u32 teid_hi : 12;
	__u32 teid_lo : 20;
	__s64 counter;
	__sum16 csum;
	_Bool active;
	enum session_state state;
	union {
		__u32 raw;
		__u8 bytes[4];
	} u;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct session);
} sessions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct lpm_key {
	__u32 prefixlen;
	__be32 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 256);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u32);
} routes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
	__uint(max_entries, 8);
} tx_ports SEC(".maps");

struct backend {
	__be32 addr;
	__u8 mac[6];
	__u16 weight;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct backend[4]);
} backends SEC(".maps");

SEC("xdp")
int xdp_main(struct xdp_md *ctx)
{
	__u32 k = 0;
	struct session *s = bpf_map_lookup_elem(&sessions, &k);
	__u64 *c = bpf_map_lookup_elem(&counters, &k);
	if (c)
		*c += 1;
	if (s && s->active)
		return bpf_redirect_map(&tx_ports, s->ue_ip & 7, 0);
	return XDP_PASS;
}

SEC("xdp.frags")
int xdp_frags_prog(struct xdp_md *ctx)
{
	struct lpm_key key = { .prefixlen = 32, .addr = 0 };
	__u32 *v = bpf_map_lookup_elem(&routes, &key);
	struct backend *b = bpf_map_lookup_elem(&backends, &key.prefixlen);
	return (v && b) ? XDP_TX : XDP_DROP;
}

static __attribute__((noinline)) int helper(int x)
{
	return x + 1;
}

SEC("tc")
int tc_prog(struct __sk_buff *skb)
{
	return helper(skb->len) ? 0 : 2;
}

char LICENSE[] SEC("license") = "GPL";
