/*
 * holes-lib: a small shared library linked with -z max-page-size=0x200000, so
 * that each of its PT_LOAD segments starts on a 2 MiB boundary of its own and
 * the loader leaves address space between them, which it maps ---p.
 *
 * The anatomy experiment loads it with dlopen and calls holes_touch, so that its
 * text, read-only data, data and bss are each in use while the holes are not.
 */
const char holes_rodata[] = "vmlab holes";
int holes_data = 7;
static char holes_bss[64];

int holes_touch(int x)
{
	holes_bss[x & 63]++;
	return x + holes_data + holes_rodata[x & 7] + holes_bss[0];
}
