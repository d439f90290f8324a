/* The other ways a program waits for its reader: it stops itself with SIGSTOP
 * (the reader sends SIGCONT), then waits in sigsuspend() for SIGUSR1, which it
 * catches. It touches a few pages between the waits so the phases differ. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile sig_atomic_t woken;

static void on_usr1(int sig) {
    (void)sig;
    woken = 1;
}

int main(void) {
    long page = sysconf(_SC_PAGESIZE);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    sigset_t usr1, old;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, &old);
    printf("pid %d stops itself\n", getpid());
    raise(SIGSTOP);
    char *a = mmap(NULL, 64 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (a == MAP_FAILED)
        return 1;
    memset(a, 3, 64 * page);
    printf("continued, now waiting for SIGUSR1\n");
    while (!woken)
        sigsuspend(&old);
    printf("got SIGUSR1\n");
    munmap(a, 64 * page);
    return 0;
}
