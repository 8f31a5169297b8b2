/*
 * cxx.cpp — C++ on heapsight: operator new/delete (plain, array, aligned,
 * sized), std::vector growth, strings and maps, and exceptions thrown and
 * caught on many threads at once (libstdc++ allocates exception objects
 * with malloc).
 *
 * Owns only these checks.  That the C++ runtime really allocates from
 * heapsight is shown with thread.allocated, which counts what heapsight
 * hands out on the calling thread; that every form of the operators is
 * heapsight's own (not the runtime's wrappers around malloc), with
 * dladdr; that they still call the new_handler and throw on failure.
 */
#include "heapsight.h"
#include "hs_test.h"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <dlfcn.h>
#include <map>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

static uint64_t
cxx_thread_allocated()
{
    uint64_t v = 0;
    size_t len = sizeof v;
    if (hs_ctl("thread.allocated", &v, &len, nullptr, 0) != 0)
        return 0;
    return v;
}

/* Keeps the compiler from eliding a new/delete pair. */
static void *
cxx_escape(void *p)
{
    __asm__ volatile("" : "+r"(p) : : "memory");
    return p;
}

HS_TEST(new_is_served_by_heapsight)
{
    uint64_t a0 = cxx_thread_allocated();
    char *p = static_cast<char *>(cxx_escape(new char[100000]));
    uint64_t a1 = cxx_thread_allocated();
    HS_EXPECT_GE_U64(a1 - a0, 100000);
    HS_EXPECT_GE_SIZE(hs_sallocx(p, 0), 100000);
    std::memset(p, 1, 100000);
    delete[] p;
}

struct cxx_node {
    uint64_t a, b;
    std::string s;
};

HS_TEST(new_delete_objects_and_arrays)
{
    std::vector<cxx_node *> nodes;
    for (int i = 0; i < 20000; i++)
        nodes.push_back(new cxx_node{uint64_t(i), uint64_t(i) * 3,
                                     std::string(size_t(i % 200), 'x')});
    size_t bad = 0;
    for (int i = 0; i < 20000; i++) {
        cxx_node *n = nodes[size_t(i)];
        if (n->a != uint64_t(i) || n->b != uint64_t(i) * 3 ||
            n->s.size() != size_t(i % 200))
            bad++;
        delete n;
    }
    HS_EXPECT_EQ_SIZE(bad, 0);
    for (size_t n = 0; n < 300000; n = n * 2 + 1) {
        int *arr = new int[n];
        for (size_t i = 0; i < n; i++)
            arr[i] = int(i);
        delete[] arr;
    }
}

struct alignas(256) cxx_aligned256 {
    unsigned char bytes[300];
};

HS_TEST(aligned_new)
{
    for (size_t a = 16; a <= (size_t(1) << 21); a <<= 1) {
        void *p = ::operator new(1000, std::align_val_t(a));
        HS_ASSERT_NOT_NULL(p);
        HS_EXPECT_ALIGNED(p, a);
        std::memset(p, 2, 1000);
        ::operator delete(p, std::align_val_t(a));
        p = ::operator new[](a + 1, std::align_val_t(a));
        HS_EXPECT_ALIGNED(p, a);
        std::memset(p, 3, a + 1);
        ::operator delete[](p, a + 1, std::align_val_t(a));
    }
    std::vector<std::unique_ptr<cxx_aligned256>> v;
    for (int i = 0; i < 1000; i++) {
        v.emplace_back(new cxx_aligned256);
        HS_EXPECT_ALIGNED(v.back().get(), 256);
        std::memset(v.back()->bytes, i & 0xff, sizeof v.back()->bytes);
    }
}

HS_TEST(sized_delete)
{
    for (size_t n = 1; n < 100000; n += n / 3 + 1) {
        void *p = ::operator new(n);
        std::memset(p, 4, n);
        ::operator delete(p, n);
    }
}

HS_TEST(nothrow_new_of_huge_size_is_null)
{
    size_t huge = SIZE_MAX - 4096;
    __asm__ volatile("" : "+r"(huge));
    void *p = ::operator new(huge, std::nothrow);
    HS_EXPECT_NULL(p);
    bool threw = false;
    try {
        p = ::operator new(huge);
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    HS_EXPECT_TRUE(threw);
}

/* The library that defines the operator the program's calls bind to. */
static std::string
cxx_definer(const char *name)
{
    void *fn = dlsym(RTLD_DEFAULT, name);
    Dl_info di;
    if (fn == nullptr || !dladdr(fn, &di) || di.dli_fname == nullptr)
        return "(none)";
    return di.dli_fname;
}

HS_TEST(every_operator_is_heapsights)
{
    static const char *const names[] = {"_Znwm",
                                        "_Znam",
                                        "_ZnwmRKSt9nothrow_t",
                                        "_ZnamRKSt9nothrow_t",
                                        "_ZnwmSt11align_val_t",
                                        "_ZnamSt11align_val_t",
                                        "_ZnwmSt11align_val_tRKSt9nothrow_t",
                                        "_ZnamSt11align_val_tRKSt9nothrow_t",
                                        "_ZdlPv",
                                        "_ZdaPv",
                                        "_ZdlPvm",
                                        "_ZdaPvm",
                                        "_ZdlPvRKSt9nothrow_t",
                                        "_ZdaPvRKSt9nothrow_t",
                                        "_ZdlPvSt11align_val_t",
                                        "_ZdaPvSt11align_val_t",
                                        "_ZdlPvmSt11align_val_t",
                                        "_ZdaPvmSt11align_val_t",
                                        "_ZdlPvSt11align_val_tRKSt9nothrow_t",
                                        "_ZdaPvSt11align_val_tRKSt9nothrow_t"};
    for (const char *name : names) {
        std::string lib = cxx_definer(name);
        if (lib.find("libheapsight") == std::string::npos)
            HS_FAIL("%s is defined by %s", name, lib.c_str());
    }
}

static int cxx_handler_calls;

static void
cxx_handler()
{
    if (++cxx_handler_calls == 3)
        std::set_new_handler(nullptr);
}

/* A failed new goes through the C++ runtime: the handler runs until it
 * removes itself, then std::bad_alloc; nothrow forms give NULL.  Plain,
 * array and aligned forms alike. */
HS_TEST(failed_new_calls_the_handler_then_throws)
{
    size_t huge = SIZE_MAX - 4096;
    __asm__ volatile("" : "+r"(huge));
    const std::align_val_t al{64};
    const char *const forms[] = {"new", "new[]", "aligned new",
                                 "aligned new[]"};
    for (int form = 0; form < 4; form++) {
        cxx_handler_calls = 0;
        std::set_new_handler(cxx_handler);
        bool threw = false;
        try {
            void *p = form == 0   ? ::operator new(huge)
                      : form == 1 ? ::operator new[](huge)
                      : form == 2 ? ::operator new(huge, al)
                                  : ::operator new[](huge, al);
            cxx_escape(p);
        } catch (const std::bad_alloc &) {
            threw = true;
        }
        if (!threw)
            HS_FAIL("%s of %zu bytes did not throw", forms[form], huge);
        HS_EXPECT_EQ_INT(cxx_handler_calls, 3);
    }
    cxx_handler_calls = 0;
    std::set_new_handler(cxx_handler);
    HS_EXPECT_NULL(::operator new[](huge, std::nothrow));
    HS_EXPECT_EQ_INT(cxx_handler_calls, 3);
    cxx_handler_calls = 0;
    std::set_new_handler(cxx_handler);
    HS_EXPECT_NULL(::operator new(huge, al, std::nothrow));
    HS_EXPECT_EQ_INT(cxx_handler_calls, 3);
    std::set_new_handler(nullptr);
}

HS_TEST(vector_growth_keeps_elements)
{
    std::vector<uint64_t> v;
    for (uint64_t i = 0; i < 3000000; i++)
        v.push_back(i * 0x9e3779b97f4a7c15ull);
    size_t bad = 0;
    for (uint64_t i = 0; i < v.size(); i++)
        bad += v[i] != i * 0x9e3779b97f4a7c15ull;
    HS_EXPECT_EQ_SIZE(bad, 0);
    v.shrink_to_fit();
    std::vector<std::string> strs;
    for (int i = 0; i < 100000; i++)
        strs.push_back(std::to_string(i) + std::string(size_t(i % 50), 'q'));
    bad = 0;
    for (int i = 0; i < 100000; i++)
        bad += strs[size_t(i)].compare(0, std::to_string(i).size(),
                                       std::to_string(i)) != 0;
    HS_EXPECT_EQ_SIZE(bad, 0);
}

HS_TEST(map_churn)
{
    std::map<int, std::string> m;
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 50000; i++)
            m[i * 7 + round] = std::string(size_t(i % 64), char('a' + round));
        for (int i = 0; i < 50000; i += 2)
            m.erase(i * 7 + round);
    }
    size_t bad = 0;
    for (const auto &kv : m)
        bad += !kv.second.empty() &&
               kv.second.find_first_not_of(kv.second[0]) != std::string::npos;
    HS_EXPECT_EQ_SIZE(bad, 0);
}

struct cxx_error : std::runtime_error {
    int id;
    std::vector<int> payload;
    cxx_error(int i, const std::string &msg)
        : std::runtime_error(msg), id(i), payload(size_t(i % 100), i)
    {
    }
};

static void
cxx_thrower(int depth, int id)
{
    std::string local(size_t(32 + depth), 'z');
    if (depth == 0)
        throw cxx_error(id, "error " + std::to_string(id) + local);
    cxx_thrower(depth - 1, id);
}

HS_TEST(exceptions_across_many_threads)
{
    enum { THREADS = 16, THROWS = 3000 };
    std::atomic<long> caught{0}, wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < THREADS; t++) {
        threads.emplace_back([t, &caught, &wrong] {
            for (int i = 0; i < THROWS; i++) {
                int id = t * THROWS + i;
                try {
                    cxx_thrower(i % 8, id);
                } catch (const cxx_error &e) {
                    std::string want = "error " + std::to_string(id);
                    if (e.id != id ||
                        std::string(e.what()).compare(0, want.size(), want) !=
                            0 ||
                        e.payload.size() != size_t(id % 100))
                        wrong++;
                    caught++;
                }
                try {
                    std::vector<int> v(size_t(i % 1000));
                    (void)v.at(v.size() + 1);
                } catch (const std::out_of_range &) {
                    caught++;
                }
            }
        });
    }
    for (auto &th : threads)
        th.join();
    HS_EXPECT_EQ_INT(caught.load(), long(THREADS) * THROWS * 2);
    HS_EXPECT_EQ_INT(wrong.load(), 0);
}

HS_TEST(exception_ptr_moves_between_threads)
{
    std::vector<std::exception_ptr> errs(64);
    std::vector<std::thread> threads;
    for (size_t i = 0; i < errs.size(); i++) {
        threads.emplace_back([i, &errs] {
            try {
                throw std::runtime_error("from thread " + std::to_string(i));
            } catch (...) {
                errs[i] = std::current_exception();
            }
        });
    }
    for (auto &th : threads)
        th.join();
    size_t ok = 0;
    for (size_t i = 0; i < errs.size(); i++) {
        try {
            std::rethrow_exception(errs[i]);
        } catch (const std::runtime_error &e) {
            ok += std::string(e.what()) == "from thread " + std::to_string(i);
        }
    }
    errs.clear();
    HS_EXPECT_EQ_SIZE(ok, 64);
}

HS_TEST_MAIN()
