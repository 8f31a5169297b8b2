/*
 * unwind_cxx.cc — the C++ half of unit_backtrace_hooks_unwind: throws and
 * catches exceptions (through several frames, with destructors running
 * during the unwind) so the C test can check that the process's exception
 * runtime still works once libunwind has been loaded, and unwinds with
 * bt_unwind from inside a catch block and from a destructor that runs
 * during exception propagation.
 */
#include <stdexcept>

extern "C" {
#include "../../../backtrace_hooks/unwind.h"
}

namespace {

struct Unwinds {
    unsigned *count;
    ~Unwinds()
    {
        hs_frame_t frames[64];
        *count += bt_unwind(frames, 64) > 0 ? 1 : 0;
    }
};

__attribute__((noinline)) void
thrower(int depth, int value, unsigned *dtor_unwinds)
{
    Unwinds guard{dtor_unwinds};
    if (depth == 0)
        throw std::runtime_error(std::to_string(value));
    thrower(depth - 1, value, dtor_unwinds);
}

} // namespace

/*
 * Throws value through depth frames (each with a destructor that unwinds)
 * and catches it; returns the caught value, or -1 if nothing was caught.
 * *r_dtor_unwinds counts destructors whose bt_unwind found frames and
 * *r_catch_frames the frames bt_unwind found inside the catch block.
 */
extern "C" int
bt_test_throw_catch(int depth, int value, unsigned *r_dtor_unwinds,
                    unsigned *r_catch_frames)
{
    *r_dtor_unwinds = 0;
    *r_catch_frames = 0;
    try {
        thrower(depth, value, r_dtor_unwinds);
    } catch (const std::runtime_error &e) {
        hs_frame_t frames[64];
        *r_catch_frames = bt_unwind(frames, 64);
        return std::stoi(e.what());
    }
    return -1;
}
