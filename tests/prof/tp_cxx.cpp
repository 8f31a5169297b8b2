/*
 * tp_cxx.cpp — C++ under the profiler: operator new sites, and exceptions
 * thrown and caught in many threads while sampling.
 *
 * For prof_test.py.  Modes:
 *   tp_cxx new DUMP
 *       allocates through new, new[], nothrow new, aligned new and a
 *       std::vector from the functions tp_cxx_new_scalar, tp_cxx_new_array,
 *       tp_cxx_new_nothrow, tp_cxx_new_aligned and tp_cxx_vector, keeps
 *       everything, and dumps to DUMP.  The driver checks that the stack
 *       of each sample starts at the program's call (at most the C++
 *       runtime's operator new above it; never heapsight's frames).
 *   tp_cxx exceptions THREADS ITERATIONS
 *       every thread throws and catches ITERATIONS exceptions (a
 *       std::runtime_error with a heap string, an int, a derived class
 *       through two frames) and allocates with new between them; prints
 *       "caught <n>" and exits 0 only when every exception was caught by
 *       the right handler.  Meant for prof_sample:1k, where most
 *       exception allocations are sampled, so the unwinder runs while
 *       other threads unwind their exceptions.
 */
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "heapsight.h"
#include "tp_util.h"

#define NOINLINE __attribute__((noinline))

namespace
{

struct Payload {
    char bytes[48];
};

struct alignas(256) Aligned {
    char bytes[512];
};

std::vector<void *> kept;

NOINLINE void
tp_cxx_new_scalar()
{
    for (int i = 0; i < 20; i++)
        kept.push_back(new Payload());
}

NOINLINE void
tp_cxx_new_array()
{
    for (int i = 0; i < 20; i++)
        kept.push_back(new int[250]);
}

NOINLINE void
tp_cxx_new_nothrow()
{
    for (int i = 0; i < 20; i++)
        kept.push_back(new (std::nothrow) Payload());
}

NOINLINE void
tp_cxx_new_aligned()
{
    for (int i = 0; i < 20; i++)
        kept.push_back(new Aligned());
}

NOINLINE void
tp_cxx_vector()
{
    auto *v = new std::vector<long>();
    for (int i = 0; i < 5000; i++)
        v->push_back(i);
    kept.push_back(v);
}

int
mode_new(const char *dump)
{
    kept.reserve(200);
    tp_cxx_new_scalar();
    tp_cxx_new_array();
    tp_cxx_new_nothrow();
    tp_cxx_new_aligned();
    tp_cxx_vector();
    if (tp_dump(dump) != 0) {
        std::fprintf(stderr, "tp_cxx: prof.dump failed\n");
        return 1;
    }
    return 0;
}

struct Derived : std::runtime_error {
    explicit Derived(const std::string &s) : std::runtime_error(s) {}
};

NOINLINE void
throw_deep(int i)
{
    if (i % 3 == 0)
        throw Derived("derived exception number " + std::to_string(i) +
                      " with a string long enough to live on the heap");
    if (i % 3 == 1)
        throw i;
    throw std::runtime_error(std::string(100 + i % 50, 'x'));
}

NOINLINE void
throw_middle(int i)
{
    auto *guard = new Payload(); /* freed by the handler's caller */
    try {
        throw_deep(i);
    } catch (...) {
        delete guard;
        throw;
    }
}

std::atomic<long> caught{0};
std::atomic<long> wrong{0};

void
thrower(int iterations)
{
    for (int i = 0; i < iterations; i++) {
        try {
            throw_middle(i);
            wrong++;
        } catch (const Derived &e) {
            if (i % 3 != 0 || std::strncmp(e.what(), "derived", 7) != 0)
                wrong++;
            caught++;
        } catch (int v) {
            if (v != i)
                wrong++;
            caught++;
        } catch (const std::runtime_error &e) {
            if (std::strlen(e.what()) != (size_t)(100 + i % 50))
                wrong++;
            caught++;
        }
        delete new std::string(64, 'y');
    }
}

int
mode_exceptions(int threads, int iterations)
{
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; t++)
        ts.emplace_back(thrower, iterations);
    for (auto &t : ts)
        t.join();
    std::printf("caught %ld wrong %ld\n", caught.load(), wrong.load());
    return caught == (long)threads * iterations && wrong == 0 ? 0 : 1;
}

} // namespace

int
main(int argc, char **argv)
{
    if (argc == 3 && std::strcmp(argv[1], "new") == 0)
        return mode_new(argv[2]);
    if (argc == 4 && std::strcmp(argv[1], "exceptions") == 0)
        return mode_exceptions(std::atoi(argv[2]), std::atoi(argv[3]));
    std::fprintf(stderr, "usage: tp_cxx new DUMP | exceptions THREADS N\n");
    return 2;
}
