/*
 * tiny-malloc, minimal variant: the same five allocations with no C library at
 * all, to see how close Linux comes to one page per process.
 *
 * Start-up is three instructions (_start below), the allocator bumps a pointer
 * through pages it gets from brk(2), and the stops and the exit are raw system
 * calls. Built static, not position independent, with code and headers in one
 * segment (see build.rs). x86-64 only.
 */
#if !defined(__x86_64__)
#error "the minimal variant is written for x86-64 system calls"
#endif

#define SYS_BRK 12
#define SYS_GETPID 39
#define SYS_EXIT 60
#define SYS_KILL 62
#define SIGSTOP_NUMBER 19
#define PAGE 4096UL

static long syscall1(long number, long a)
{
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(number), "D"(a) : "rcx", "r11", "memory");
	return ret;
}

static long syscall2(long number, long a, long b)
{
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(number), "D"(a), "S"(b) : "rcx", "r11", "memory");
	return ret;
}

static void stop_self(void)
{
	syscall2(SYS_KILL, syscall1(SYS_GETPID, 0), SIGSTOP_NUMBER);
}

/* The allocator's whole state: the next free byte and the end of the heap. */
static unsigned long heap_next, heap_end;

#ifdef ARENA_IN_BSS
/*
 * The seed's proposal: serve the 1076 requested bytes (1104 with 16-byte
 * alignment) from the free tail of the page .bss already occupies, not from
 * new pages.
 */
static char arena[1152] __attribute__((aligned(16)));

static void *tiny_malloc(unsigned long size)
{
	unsigned long start = (heap_next + 15) & ~15UL;

	if (start + size > heap_end)
		return 0;
	heap_next = start + size;
	*(volatile char *)start = 1;
	return (void *)start;
}
#else
static void *tiny_malloc(unsigned long size)
{
	unsigned long start, want;

	if (heap_end == 0)
		heap_next = heap_end = (unsigned long)syscall1(SYS_BRK, 0);
	start = (heap_next + 15) & ~15UL;
	if (start + size > heap_end) {
		want = (start + size + PAGE - 1) & ~(PAGE - 1);
		heap_end = (unsigned long)syscall1(SYS_BRK, (long)want);
		if (heap_end < want)
			return 0;
	}
	heap_next = start + size;
	/* Write to it, as a caller would: that is what makes the page resident. */
	*(volatile char *)start = 1;
	return (void *)start;
}
#endif

static void *volatile kept[5];

__attribute__((noreturn, used)) void minimal_main(void)
{
#ifdef ARENA_IN_BSS
	/* The program's own use of its .bss page, before any allocation. */
	heap_next = (unsigned long)arena;
	heap_end = heap_next + sizeof(arena);
#endif
	stop_self(); /* before-mallocs */
	kept[0] = tiny_malloc(360);
	kept[1] = tiny_malloc(80);
	kept[2] = tiny_malloc(180);
	kept[3] = tiny_malloc(16);
	kept[4] = tiny_malloc(440);
	stop_self(); /* after-mallocs */
	for (;;)
		syscall1(SYS_EXIT, 0);
}

/* The kernel enters with the stack 16-byte aligned; the call keeps the ABI's alignment. */
__asm__(".text\n"
	".global _start\n"
	"_start:\n"
	"	xor %ebp, %ebp\n"
	"	and $-16, %rsp\n"
	"	call minimal_main\n");
