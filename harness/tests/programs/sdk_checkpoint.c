/* A program that names its checkpoints with vmlab.h: it declares a buffer as a
 * region, waits at after-alloc, touches every page, waits at after-touch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmlab.h"

int main(int argc, char **argv) {
    size_t len = (size_t)(argc > 1 ? atol(argv[1]) : 256) * (size_t)sysconf(_SC_PAGESIZE);
    char *buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    madvise(buf, len, MADV_NOHUGEPAGE);
    if (vmlab_region("buffer", buf, len) != 0 || vmlab_note("buffer_bytes", "set by argv[1]") != 0)
        return 1;
    if (vmlab_checkpoint("after-alloc") != 0)
        return 1;
    memset(buf, 7, len);
    if (vmlab_checkpoint("after-touch") != 0)
        return 1;
    printf("done, under the harness: %s\n", vmlab_active() ? "yes" : "no");
    return 0;
}
