/* vmlab.h: named checkpoints for programs measured with `harness trace`.
 *
 * Copy this one file next to a program and call, for example:
 *
 *     #include "vmlab.h"
 *     char *p = mmap(...);
 *     vmlab_region("data", p, len);      // follow this range in every snapshot
 *     vmlab_checkpoint("after-mmap");    // wait here while the harness looks
 *
 * The calls speak vmlab's checkpoint protocol (the lines the built-in
 * experiments write, `vmlab-protocol 1 checkpoint LABEL main=PID`) over the two
 * descriptors the harness names in the environment variable VMLAB_CHANNEL
 * ("W,R": write protocol lines to W, read the answer `go` from R). Run outside
 * the harness, where the variable is absent, every call returns 0 at once and
 * the program just continues. Nothing here allocates: lines are formatted on
 * the stack and written with one write(2), so a checkpoint does not disturb
 * the memory being measured.
 *
 * Labels, region names and note keys: lower-case letters, digits, '-' and '_'.
 * Return value: 0 on success (or outside the harness), -1 if the harness
 * stopped answering (the program may go on or exit, as it likes).
 */
#ifndef VMLAB_H
#define VMLAB_H

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VMLAB_CHANNEL_ENV "VMLAB_CHANNEL"
#define VMLAB_LINE_MAX 1024

/* The channel's descriptors; both -1 outside the harness. */
static inline int vmlab_fds_(int *w, int *r) {
    static int write_fd = -2, read_fd = -2;
    if (write_fd == -2) {
        const char *spec = getenv(VMLAB_CHANNEL_ENV);
        write_fd = read_fd = -1;
        if (spec != NULL && sscanf(spec, "%d,%d", &write_fd, &read_fd) != 2)
            write_fd = read_fd = -1;
    }
    *w = write_fd;
    *r = read_fd;
    return write_fd >= 0 && read_fd >= 0;
}

/* 1 when the program runs under `harness trace`, else 0. */
static inline int vmlab_active(void) {
    int w, r;
    return vmlab_fds_(&w, &r);
}

static inline int vmlab_send_(const char *line, size_t len) {
    int w, r;
    if (!vmlab_fds_(&w, &r))
        return 0;
    while (len > 0) {
        ssize_t n = write(w, line, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        line += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads the harness's answer up to the line break; 0 if it is `go`. */
static inline int vmlab_wait_for_go_(void) {
    int w, r;
    char answer[16];
    size_t len = 0;
    if (!vmlab_fds_(&w, &r))
        return 0;
    for (;;) {
        char c;
        ssize_t n = read(r, &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        if (c == '\n')
            break;
        if (len < sizeof answer - 1)
            answer[len++] = c;
    }
    answer[len] = '\0';
    return strcmp(answer, "go") == 0 ? 0 : -1;
}

/* Waits at a checkpoint named `label` until the harness has snapshotted the
 * program's processes. */
static inline int vmlab_checkpoint(const char *label) {
    char line[VMLAB_LINE_MAX];
    if (!vmlab_active())
        return 0;
    int n = snprintf(line, sizeof line, "vmlab-protocol 1 checkpoint %s main=%d\n", label, (int)getpid());
    if (n <= 0 || (size_t)n >= sizeof line)
        return -1;
    if (vmlab_send_(line, (size_t)n) != 0)
        return -1;
    return vmlab_wait_for_go_();
}

/* Asks the harness to follow `len` bytes from `start` as region `name` in
 * every later snapshot (Size, Rss, Pss, ... summed over the mappings it overlaps). */
static inline int vmlab_region(const char *name, const void *start, size_t len) {
    char line[VMLAB_LINE_MAX];
    if (!vmlab_active())
        return 0;
    int n = snprintf(line, sizeof line, "vmlab-protocol 1 region %s start=%#lx len=%zu\n", name,
                     (unsigned long)start, len);
    if (n <= 0 || (size_t)n >= sizeof line)
        return -1;
    return vmlab_send_(line, (size_t)n);
}

/* Records a fact about the run (`key` a plain name, `value` one line of text). */
static inline int vmlab_note(const char *key, const char *value) {
    char line[VMLAB_LINE_MAX];
    if (!vmlab_active())
        return 0;
    int n = snprintf(line, sizeof line, "vmlab-protocol 1 note %s %s\n", key, value);
    if (n <= 0 || (size_t)n >= sizeof line || memchr(value, '\n', strlen(value)) != NULL)
        return -1;
    return vmlab_send_(line, (size_t)n);
}

#endif /* VMLAB_H */
