/* A child that keeps working while only its parent waits for Enter: the
 * child writes its pages over and over until the parent ends it. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long pages = argc > 1 ? atol(argv[1]) : 256;
    long page = sysconf(_SC_PAGESIZE);
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) {
        perror("fork");
        return 1;
    }
    if (child == 0) {
        for (unsigned char round = 0;; round++) {
            char *buf = mmap(NULL, pages * page, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (buf == MAP_FAILED)
                _exit(1);
            memset(buf, round, pages * page);
            munmap(buf, pages * page);
        }
    }
    printf("the child works on, press enter\n");
    getchar();
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    return 0;
}
