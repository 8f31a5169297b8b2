/*
 * signame.c — unit tests of alloc/util/signame.h: the names prof_signal,
 * prof_attach_signal and `heapsight attach --signal` accept, and the ones
 * they refuse (0).
 */
#include "hs_test.h"

#include <signal.h>
#include <stdio.h>

#include "util/signame.h"

HS_TEST(classic_names_with_and_without_sig)
{
    HS_EXPECT_EQ_INT(hs_signal_number("USR1"), SIGUSR1);
    HS_EXPECT_EQ_INT(hs_signal_number("SIGUSR2"), SIGUSR2);
    HS_EXPECT_EQ_INT(hs_signal_number("HUP"), SIGHUP);
    HS_EXPECT_EQ_INT(hs_signal_number("SIGWINCH"), SIGWINCH);
}

HS_TEST(realtime_by_offset_and_number)
{
    HS_EXPECT_EQ_INT(hs_signal_number("RTMIN"), SIGRTMIN);
    HS_EXPECT_EQ_INT(hs_signal_number("RTMIN+5"), SIGRTMIN + 5);
    HS_EXPECT_EQ_INT(hs_signal_number("SIGRTMIN+5"), SIGRTMIN + 5);
    HS_EXPECT_EQ_INT(hs_signal_number("RTMIN+0"), SIGRTMIN);
    char n[16];
    snprintf(n, sizeof n, "%d", SIGRTMAX);
    HS_EXPECT_EQ_INT(hs_signal_number(n), SIGRTMAX);
}

HS_TEST(refused)
{
    static const char *const bad[] = {
        "",        "SIG",     "usr1",     "KILL", "9",     "RTMIN+",
        "RTMIN+x", "RTMIN-1", "RTMIN+99", "40x",  "99999", "RTMAX",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (hs_signal_number(bad[i]) != 0)
            HS_FAIL("'%s' gave %d", bad[i], hs_signal_number(bad[i]));
}

HS_TEST_MAIN()
