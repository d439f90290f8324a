/*
 * tiny-malloc: the test program of "ten thousand small processes" (D. J. Bernstein,
 * freebsd-performance, 2003): five small allocations, then wait.
 *
 * Built twice by build.rs, statically and dynamically linked against the system C
 * library. Instead of sleeping, the program stops itself (SIGSTOP) once when
 * start-up is over and once after the allocations; the launcher snapshots it while
 * it is stopped.
 */
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

/* Volatile, so the compiler keeps every allocation. */
static void *volatile kept[5] __attribute__((unused));

#ifdef MANY_SMALL
/*
 * The many-small build: argv[1] allocations of argv[2] bytes each, every block
 * written once and none freed, so that the allocator's own bookkeeping shows
 * beside the bytes requested. No pointer is kept: an array of them would be
 * resident memory of the program's, not the allocator's.
 */
int main(int argc, char **argv)
{
	if (argc != 3)
		_exit(2);
	long count = atol(argv[1]);
	long bytes = atol(argv[2]);
	raise(SIGSTOP); /* before-mallocs */
	for (long i = 0; i < count; i++) {
		char *volatile block = malloc(bytes);
		if (!block)
			_exit(1);
		block[0] = 1;
	}
	raise(SIGSTOP); /* after-mallocs */
	_exit(0);
}
#else
int main(void)
{
	raise(SIGSTOP); /* before-mallocs */
	kept[0] = malloc(360);
	kept[1] = malloc(80);
	kept[2] = malloc(180);
	kept[3] = malloc(16);
	kept[4] = malloc(440);
	raise(SIGSTOP); /* after-mallocs */
#ifdef CALL_EXIT
	/* The seed's program: exit() runs atexit handlers and flushes stdio. */
	exit(0);
#else
	_exit(0);
#endif
}
#endif
