/* Fork and copy-on-write the writings' way: fill a buffer, wait, fork; the
 * child writes some of the pages and waits in pause() (no handler: the reader
 * ends it with Ctrl-C); the parent waits for it, says so, and waits for Enter.
 * The child prints nothing, so its faults are the copies and little else. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long pages = argc > 1 ? atol(argv[1]) : 1024;
    long written = argc > 2 ? atol(argv[2]) : 256;
    long page = sysconf(_SC_PAGESIZE);
    char *buf = mmap(NULL, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    madvise(buf, pages * page, MADV_NOHUGEPAGE);
    memset(buf, 1, pages * page);
    printf("pid %d filled %ld pages, press enter to fork\n", getpid(), pages);
    getchar();
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) {
        perror("fork");
        return 1;
    }
    if (child == 0) {
        for (long i = 0; i < written; i++)
            buf[i * page] = 2;
        pause();
        _exit(0);
    }
    printf("forked child %d, which writes %ld pages\n", child, written);
    int status;
    waitpid(child, &status, 0);
    printf("child ended\n");
    getchar();
    return 0;
}
