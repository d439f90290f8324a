/* shared-file: N processes map one file; Pss splits each page among its mappers.
 * cc -o shared-file shared-file.c && ./shared-file FILE N   (or: harness trace -- ...) */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int fd = open(argc > 1 ? argv[1] : "data", O_RDONLY), n = argc > 2 ? atoi(argv[2]) : 4, ready[2];
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || pipe(ready) != 0 || n < 3) { perror("open"); return 1; }
    char *p = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0), byte = 0;
    pid_t kids[n];
    printf("pid %d: press Enter after each step\n", getpid());
    for (int i = 0; i < n; i++)
        if ((kids[i] = fork()) == 0) { /* each child reads every page, says so, sleeps */
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
