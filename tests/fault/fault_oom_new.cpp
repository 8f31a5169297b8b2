/*
 * fault_oom_new.cpp — the C++ half of fault_oom.c: operator new on
 * heapsight's malloc, under the same RLIMIT_AS.
 *
 * Owns fault_oom_new_fails and fault_oom_new_works (declared in
 * fault_oom.c).  new(std::nothrow) must return NULL and the throwing new
 * must throw std::bad_alloc, for plain, array and over-aligned new alike.
 */
#include <cstddef>
#include <cstdio>
#include <new>

namespace
{

struct alignas(4096) page_aligned {
    unsigned char b[4096];
};

template <typename F>
bool
throws_bad_alloc(const char *what, F f)
{
    try {
        f();
    } catch (const std::bad_alloc &) {
        return true;
    }
    std::printf("  %s did not throw std::bad_alloc\n", what);
    return false;
}

} // namespace

extern "C" bool
fault_oom_new_fails(std::size_t size)
{
    bool ok = true;
    char *p = new (std::nothrow) char[size];
    if (p != nullptr) {
        std::printf("  new(nothrow) char[%zu] returned %p\n", size,
                    static_cast<void *>(p));
        delete[] p;
        ok = false;
    }
    page_aligned *a = new (std::nothrow) page_aligned[size / 4096];
    if (a != nullptr) {
        std::printf("  new(nothrow) page_aligned[] returned a block\n");
        delete[] a;
        ok = false;
    }
    ok &= throws_bad_alloc("new char[]", [size] {
        char *volatile q = new char[size];
        delete[] q;
    });
    ok &= throws_bad_alloc("operator new", [size] {
        void *volatile q = ::operator new(size);
        ::operator delete(q);
    });
    ok &= throws_bad_alloc("new page_aligned[]", [size] {
        page_aligned *volatile q = new page_aligned[size / 4096];
        delete[] q;
    });
    return ok;
}

extern "C" bool
fault_oom_new_works(std::size_t size)
{
    try {
        char *p = new char[size];
        p[0] = 1;
        p[size - 1] = 1;
        delete[] p;
        page_aligned *a = new page_aligned[size / 4096];
        a[0].b[0] = 1;
        delete[] a;
    } catch (const std::bad_alloc &) {
        std::printf("  new of %zu bytes threw std::bad_alloc\n", size);
        return false;
    }
    return true;
}
