/*
 * helpers_proc.c - the parent's registry of forked test children
 * (declared in helpers.h, "Child processes"): spawn through
 * cl_test_fork_start, reap with a deadline, fail at once when a child
 * ended on its own (a failed check in it), and SIGKILL + reap whatever is
 * left in a teardown, so a failing test leaves no process behind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "helpers.h"

static pid_t kids[CL_TEST_KIDS_MAX];

static void forget(pid_t pid)
{
    for (int i = 0; i < CL_TEST_KIDS_MAX; i++) {
        if (kids[i] == pid) {
            kids[i] = 0;
        }
    }
}

pid_t cl_test_kids_spawn(void (*fn)(void *), void *arg)
{
    for (int i = 0; i < CL_TEST_KIDS_MAX; i++) {
        if (kids[i] == 0) {
            kids[i] = cl_test_fork_start(fn, arg);
            return kids[i];
        }
    }
    fail_msg("more than %d children", CL_TEST_KIDS_MAX);
    return -1;
}

int cl_test_kids_reap(pid_t pid, int64_t timeout_ms)
{
    int64_t deadline = cl_test_mono_ms() + timeout_ms;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            forget(pid);
            return status;
        }
        if (r < 0 && errno != EINTR) {
            fail_msg("waitpid %ld: %s", (long)pid, strerror(errno));
        }
        if (cl_test_mono_ms() > deadline) {
            fail_msg("child %ld did not end within %lld ms", (long)pid,
                     (long long)timeout_ms);
        }
        cl_test_sleep_ms(2);
    }
}

void cl_test_kids_check_running(void)
{
    for (int i = 0; i < CL_TEST_KIDS_MAX; i++) {
        int status;
        if (kids[i] > 0 && waitpid(kids[i], &status, WNOHANG) == kids[i]) {
            pid_t pid = kids[i];
            kids[i] = 0;
            fprintf(stderr, "child %ld ended unexpectedly\n", (long)pid);
            cl_test_assert_exit_ok(status);
            fail_msg("child %ld exited early with status 0", (long)pid);
        }
    }
}

void cl_test_kids_sleep(int64_t ms)
{
    int64_t end = cl_test_mono_ms() + ms;
    while (cl_test_mono_ms() < end) {
        cl_test_kids_check_running();
        cl_test_sleep_ms(5);
    }
}

void cl_test_kids_kill_all(void)
{
    for (int i = 0; i < CL_TEST_KIDS_MAX; i++) {
        if (kids[i] > 0) {
            kill(kids[i], SIGKILL);
            while (waitpid(kids[i], NULL, 0) < 0 && errno == EINTR) {
            }
            kids[i] = 0;
        }
    }
}
