/* anatomy: where a process keeps its pieces; find each in /proc/PID/maps.
 * cc -o anatomy anatomy.c && ./anatomy   (or: harness trace -- ./anatomy) */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int initialised = 42; /* .data: its value is in the program file */
int zeroed;           /* .bss: only its size is in the file */

int main(void) {
    int on_stack = 0;
    char *small = malloc(4), *large = malloc(1 << 20); /* large: own mmap */
    char *anon = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("pid %d: find each address in /proc/%d/maps\n", getpid(), getpid());
    printf("stack variable     %p\n", (void *)&on_stack);
    printf("small malloc       %p\n", (void *)small);
    printf("large malloc       %p\n", (void *)large);
    printf("function           %p\n", (void *)main);
    printf("initialised static %p\n", (void *)&initialised);
    printf("zeroed static      %p\n", (void *)&zeroed);
    printf("anonymous mmap     %p\n", (void *)anon);
    puts("addresses reported"); getchar();
    return 0;
}
