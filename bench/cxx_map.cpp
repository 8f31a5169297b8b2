/*
 * cxx_map.cpp — a C++ container workload: std::map / std::unordered_map of
 * std::string to std::vector, plus shared_ptr'd nodes.
 *
 * Owns: the cxx_map benchmark only.
 *
 * Shape: `rounds` rounds; each inserts `keys` string keys (longer than the
 * 15-byte small-string buffer, so each key allocates) into a std::map and
 * an std::unordered_map whose values are vectors grown by push_back, looks
 * half of them up, erases a random half, and rebuilds a list of
 * shared_ptr nodes.  operator new/delete reach the allocator under test
 * through libstdc++'s default operator new (malloc), or directly where the
 * preloaded allocator replaces operator new itself (jemalloc, tcmalloc,
 * mimalloc), which is the same either way for a preload comparison.
 * Tree nodes, hash buckets, string bodies and vector growth give a mix of
 * 32..512-byte objects with node-based, pointer-chasing lifetimes.
 *
 * Checksum: sizes and contents summed in key order; deterministic.
 */
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

struct Node {
    std::string label;
    std::vector<uint32_t> payload;
    std::shared_ptr<Node> next;
};

uint64_t
rng_next(uint64_t &state)
{
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

std::string
make_key(uint64_t v)
{
    char buf[64];
    int n = std::snprintf(buf, sizeof(buf), "key/%016" PRIx64 "/%u", v,
                          static_cast<unsigned>(v % 977));
    return std::string(buf, static_cast<size_t>(n));
}

uint64_t
map_round(uint64_t &rng, long keys)
{
    std::map<std::string, std::vector<uint32_t>> ordered;
    std::unordered_map<std::string, std::vector<uint32_t>> hashed;
    std::vector<std::string> names;
    names.reserve(static_cast<size_t>(keys));
    for (long i = 0; i < keys; i++) {
        uint64_t v = rng_next(rng);
        names.push_back(make_key(v));
        auto &a = ordered[names.back()];
        auto &b = hashed[names.back()];
        for (uint64_t k = 0; k < 1 + (v >> 59); k++) {
            a.push_back(static_cast<uint32_t>(v + k));
            b.push_back(static_cast<uint32_t>(v ^ k));
        }
    }
    uint64_t sum = 0;
    for (long i = 0; i < keys; i += 2) {
        auto it = hashed.find(names[static_cast<size_t>(i)]);
        sum += it->second.size() + it->second.back();
    }
    for (long i = 0; i < keys; i++) {
        if (rng_next(rng) & 1) {
            ordered.erase(names[static_cast<size_t>(i)]);
            hashed.erase(names[static_cast<size_t>(i)]);
        }
    }
    for (const auto &kv : ordered)
        sum = sum * 31 + kv.first.size() + kv.second.front();
    return sum + hashed.size();
}

uint64_t
list_round(uint64_t &rng, long nodes)
{
    std::shared_ptr<Node> head;
    for (long i = 0; i < nodes; i++) {
        auto n = std::make_shared<Node>();
        uint64_t v = rng_next(rng);
        n->label = make_key(v);
        n->payload.assign(1 + v % 24, static_cast<uint32_t>(v));
        n->next = head;
        head = std::move(n);
    }
    uint64_t sum = 0;
    /* Unlink iteratively: a recursive shared_ptr chain destructor would
     * overflow the stack. */
    while (head) {
        sum += head->label.size() + head->payload.size();
        head = std::move(head->next);
    }
    return sum;
}

long
arg_value(int argc, char **argv, const char *name, long def)
{
    size_t n = std::strlen(name);
    for (int i = 1; i < argc; i++) {
        if (std::strncmp(argv[i], name, n) == 0 && argv[i][n] == '=')
            return std::strtol(argv[i] + n + 1, nullptr, 0);
    }
    return def;
}

} // namespace

int
main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (std::strncmp(argv[i], "rounds=", 7) != 0
            && std::strncmp(argv[i], "keys=", 5) != 0) {
            std::fprintf(stderr,
                         "usage: %s [rounds=N (8)] [keys=N (60000)]\n",
                         argv[0]);
            return 2;
        }
    }
    long rounds = arg_value(argc, argv, "rounds", 8);
    long keys = arg_value(argc, argv, "keys", 60000);
    uint64_t rng = 12345;
    uint64_t sum = 0;
    for (long r = 0; r < rounds; r++) {
        sum += map_round(rng, keys);
        sum += list_round(rng, keys * 2);
    }
    std::printf("checksum=%016" PRIx64 " workload=cxx_map rounds=%ld "
                "keys=%ld\n",
                sum, rounds, keys);
    return 0;
}
