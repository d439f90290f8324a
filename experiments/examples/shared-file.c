/* shared-file: N processes map one file; Pss splits each page among them.
 * cc -o shared-file shared-file.c && ./shared-file FILE 4  (or under trace) */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int fd = open(argc > 1 ? argv[1] : "data", O_RDONLY), ready[2];
    int n = argc > 2 ? atoi(argv[2]) : 4; struct stat st; char byte = 0;
    if (fd < 0 || fstat(fd, &st) || pipe(ready) || n < 3) return 1;
    char *p = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    pid_t kids[n];
    printf("pid %d: press Enter after each step\n", getpid());
    for (int i = 0; i < n; i++)
        if ((kids[i] = fork()) == 0) { /* read every page, say so, sleep */
            for (off_t j = 0; j < st.st_size; j += 4096) byte += p[j];
            for (write(ready[1], &byte, 1);;) sleep(1000);
        }
    for (int i = 0; i < n; i++) read(ready[0], &byte, 1);
    puts("all reading"); getchar();
    kill(kids[n - 1], SIGKILL); waitpid(kids[n - 1], NULL, 0);
    puts("after one exits"); getchar();
    kill(kids[n - 2], SIGKILL); waitpid(kids[n - 2], NULL, 0);
    puts("after two exit"); getchar();
    for (int i = 0; i < n - 2; i++) kill(kids[i], SIGKILL);
}
