// Fixture for compiler/tests/btf_maps.rs: the less common shapes — typedef'd
// and anonymous aggregates, qualifiers, BTF tags, floats, self-referential
// pointers, signed enums, multi-dimensional arrays, maps without key/value.
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

#define __tag __attribute__((btf_decl_tag("xdptest")))
#define __ttag __attribute__((btf_type_tag("user")))

typedef _Bool bool_t;
typedef __u32 ifindex_t;

enum verdict { V_NEG = -2, V_ZERO = 0, V_BIG = 100 };

struct node {
	struct node *next;
	__u64 __ttag *user_ptr;
	double weight;
};

typedef struct {
	const volatile __be64 cookie;
	__be16 ports[2][3];
	struct {
		__u8 a;
		__u8 b;
	};
	enum { ANON_A = 1, ANON_B = 2 } anon_kind;
	enum verdict verdict;
	bool_t up;
	ifindex_t ifindex __tag;
	__wsum partial;
	struct node n;
	__u8 tail[];
} flow_t;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 16);
	__type(key, __be64);
	__type(value, flow_t);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

typedef struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, signed char);
} small_array_t;

small_array_t small SEC(".maps");

SEC("xdp")
int xdp_edge(struct xdp_md *ctx)
{
	__be64 k = 0;
	__u32 z = 0;
	flow_t *f = bpf_map_lookup_elem(&flows, &k);
	signed char *c = bpf_map_lookup_elem(&small, &z);
	if (c)
		*c = 1;
	if (f && f->up)
		bpf_ringbuf_output(&events, &k, sizeof(k), 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
